"""The spoken instruction: ``admin set-instruction`` checks the file; the exam carries it."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest
import requests

from tests.conftest import REPO, require
from zhishiyun.api.client import ServerClient
from zhishiyun.api.errors import ApiError
from zhishiyun.api.tokens import MemoryTokenStore

ZHANG = ("110101199003070011", "zsy-demo-1")


def spoken_file(tmp_path, suffix=".ogg"):
    """Two seconds of a real tone, encoded by ffmpeg (what an organisation would upload)."""
    import shutil

    if shutil.which("ffmpeg") is None:
        require("ffmpeg", "makes the instruction's audio file")
    out = tmp_path / f"instruction{suffix}"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=660:duration=2",
                    "-ac", "1", "-ar", "16000", "-y", str(out)], check=True, timeout=60)
    return out


def admin(server, *args):
    """``zhishiyun-server admin …`` on the server's database: (exit status, stderr)."""
    done = subprocess.run([sys.executable, "-m", "zhishiyun_server", "admin", "--db",
                           server.db_url, "--data", str(server.data_dir), *args],
                          capture_output=True, text=True, timeout=120, cwd=REPO, check=False)
    return done.returncode, done.stderr


def written_exam(client):
    return next(e for e in client.exams() if e.kind == "written" and e.state == "open")


@pytest.fixture
def client_of(server_factory):
    server = server_factory()
    client = ServerClient(server.url, token_store=MemoryTokenStore(server.url), retries=1)
    client.store_login(client.login_password(*ZHANG))
    yield server, client
    client.close()


def test_an_instruction_set_by_the_admin_comes_with_the_exam_and_downloads_intact(
        client_of, tmp_path):
    server, client = client_of
    exam = written_exam(client)
    assert exam.instruction is None
    audio = spoken_file(tmp_path)
    status, err = admin(server, "set-instruction", "--exam", str(exam.id), str(audio))
    assert status == 0, err

    info = written_exam(client).instruction
    data = audio.read_bytes()
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert (info.size, info.content_type) == (len(data), "audio/ogg")
    saved = client.save_instruction(info, tmp_path / "downloads")
    assert saved.read_bytes() == data
    assert requests.get(server.url + info.url, timeout=10).status_code == 401, "candidates only"

    status, err = admin(server, "set-instruction", "--exam", str(exam.id), "--remove")
    assert status == 0, err
    assert written_exam(client).instruction is None
    with pytest.raises(ApiError) as refused:
        client.save_instruction(info, tmp_path / "again")
    assert refused.value.status == 404


def test_a_download_that_does_not_match_the_sha256_is_not_kept(client_of, tmp_path):
    server, client = client_of
    exam = written_exam(client)
    status, err = admin(server, "set-instruction", "--exam", str(exam.id),
                        str(spoken_file(tmp_path, ".wav")))
    assert status == 0, err
    info = written_exam(client).instruction
    forged = info.model_copy(update={"sha256": "0" * 64})
    with pytest.raises(ApiError) as bad:
        client.save_instruction(forged, tmp_path / "downloads")
    assert bad.value.code == "bad_reply"
    assert not list((tmp_path / "downloads").iterdir()), "nothing half-trusted stays on disk"


def test_the_admin_refuses_what_is_not_sound_or_too_large_in_one_line(server_factory,
                                                                      tmp_path):
    server = server_factory()
    fake = tmp_path / "notice.mp3"
    fake.write_bytes(b"%PDF-1.7 a document renamed")
    status, err = admin(server, "set-instruction", "--exam", "1", str(fake))
    assert (status, err.count("\n")) == (1, 1) and "not a MP3 audio file" in err
    video = tmp_path / "talk.mp4"
    video.write_bytes(b"\0\0\0\x18ftypmp42")
    status, err = admin(server, "set-instruction", "--exam", "1", str(video))
    assert status == 1 and ".mp3, .m4a, .ogg or .wav" in err
    big = tmp_path / "long.wav"
    with big.open("wb") as handle:
        handle.write(b"RIFF\0\0\0\0WAVE")
        handle.truncate(21 * 1024 * 1024)
    status, err = admin(server, "set-instruction", "--exam", "1", str(big))
    assert status == 1 and "larger than 20 MB" in err
    status, err = admin(server, "set-instruction", "--exam", "999", str(fake))
    assert status == 1 and "no exam with id 999" in err
