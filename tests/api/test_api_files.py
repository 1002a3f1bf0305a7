"""File names from the server never escape the target directory."""

from __future__ import annotations

import pytest

from tests.server.support import ZHANG_SAN
from zhishiyun.api import ServerClient, safe_filename
from zhishiyun.api.models import Attachment
from zhishiyun.api.tokens import MemoryTokenStore


@pytest.mark.parametrize("name,expected", [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\Windows\\win.ini", "win.ini"),
    ("考生须知.txt", "考生须知.txt"),
    ("CON.txt", "file_CON.txt"),
    ("..", "file"),
    ("a\x00b:c?.pdf", "a_b_c_.pdf"),
    ("", "file"),
])
def test_safe_filename(name, expected):
    assert safe_filename(name) == expected


def test_long_names_keep_their_extension():
    name = safe_filename("x" * 300 + ".pdf")
    assert len(name) <= 120 and name.endswith(".pdf")


@pytest.mark.integration
def test_an_attachment_named_with_dot_dot_is_saved_inside_the_folder(demo_server, tmp_path):
    client = ServerClient(demo_server.url, token_store=MemoryTokenStore())
    client.login_password(ZHANG_SAN[1], ZHANG_SAN[2])
    real = next(e for e in client.exams() if e.attachments).attachments[0]
    evil = Attachment(id=real.id, filename="../../outside.txt", content_type="text/plain",
                      size=real.size, url=real.url)
    target = tmp_path / "downloads"
    saved = client.save_attachment(evil, target)
    assert saved == target / "outside.txt" and saved.stat().st_size == real.size
    assert not (tmp_path / "outside.txt").exists()


def test_client_from_settings_uses_the_configured_server_and_timeouts(monkeypatch):
    from zhishiyun.config import load_settings

    monkeypatch.setenv("ZHISHIYUN_SERVER_URL", "https://exam.example.cn/")
    monkeypatch.setenv("ZHISHIYUN_READ_TIMEOUT", "7")
    client = ServerClient.from_settings(load_settings(), token_store=MemoryTokenStore())
    assert client.api_url == "https://exam.example.cn/api/v1"
    assert client.timeout == (5.0, 7.0)
