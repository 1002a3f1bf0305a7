"""The macOS pkg postinstall writes the system config the config layer reads."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from zhishiyun.config import load_settings

REPO = Path(__file__).resolve().parents[2]
POSTINSTALL = REPO / "installer" / "macos" / "scripts" / "postinstall"
SYSTEM_FILE = Path("Library/Application Support/Zhishiyun/zhishiyun.toml")

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def _postinstall(pkg: Path, volume: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(POSTINSTALL), str(pkg), "/Applications", str(volume)],
                          capture_output=True, text=True, check=True)


def test_config_beside_the_pkg_becomes_the_system_config(tmp_path):
    deploy, volume = tmp_path / "deploy", tmp_path / "volume"
    deploy.mkdir()
    volume.mkdir()
    pkg = deploy / "Zhishiyun.pkg"
    pkg.write_bytes(b"xar!")
    # Written by Notepad-like editors: a BOM, CRLF line ends and a Chinese comment
    (deploy / "zhishiyun.toml").write_bytes(
        "\ufeff# 考场 A\r\nserver_url = \"https://exam.example.cn\"\r\nlanguage = \"zh_CN\"\r\n"
        .encode("utf-8"))
    _postinstall(pkg, volume)
    written = volume / SYSTEM_FILE
    assert written.read_bytes()[:3] != b"\xef\xbb\xbf"
    settings = load_settings(environ={}, system_file=written, user_file=tmp_path / "none.toml")
    assert settings.problems == []
    assert settings.server_url == "https://exam.example.cn"
    assert settings.language == "zh_CN"
    assert settings.sources["server_url"].startswith("system file")


def test_without_a_config_source_the_existing_system_config_is_kept(tmp_path):
    volume = tmp_path / "volume"
    existing = volume / SYSTEM_FILE
    existing.parent.mkdir(parents=True)
    existing.write_text('server_url = "https://kept.example.cn"\n')
    pkg = tmp_path / "Zhishiyun.pkg"
    pkg.write_bytes(b"xar!")
    done = _postinstall(pkg, volume)
    assert existing.read_text() == 'server_url = "https://kept.example.cn"\n'
    assert "system config kept" in done.stdout


@pytest.mark.skipif(shutil.which("plutil") is None,
                    reason="not on this OS: plutil exists only on macOS")
def test_configuration_profile_is_turned_into_toml(tmp_path):
    volume = tmp_path / "volume"
    managed = volume / "Library" / "Managed Preferences"
    managed.mkdir(parents=True)
    subprocess.run(["plutil", "-create", "xml1", str(managed / "cn.zhishiyun.client.plist")],
                   check=True)
    for args in (["server_url", "-string", 'https://exam.example.cn/a"b'],
                 ["ntp_servers", "-json", '["ntp.aliyun.com"]']):
        subprocess.run(["plutil", "-insert", *args, str(managed / "cn.zhishiyun.client.plist")],
                       check=True)
    pkg = tmp_path / "Zhishiyun.pkg"
    pkg.write_bytes(b"xar!")
    _postinstall(pkg, volume)
    settings = load_settings(environ={}, system_file=volume / SYSTEM_FILE,
                             user_file=tmp_path / "none.toml")
    assert settings.ntp_servers == ("ntp.aliyun.com",)
    assert settings.server_url == 'https://exam.example.cn/a"b'
