"""The data directory: a machine-wide root from the system file gives each OS user a private one."""

from __future__ import annotations

import logging
import os
import stat
import sys
from pathlib import Path

import pytest

from tests.platform.fakes import FakeWindowsSystem
from zhishiyun import paths
from zhishiyun.config import load_settings
from zhishiyun.platform.base import CommandResult
from zhishiyun.platform.windows import ADMINISTRATORS_SID, SYSTEM_SID, WindowsPlatform

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="not on this OS: POSIX modes")


@pytest.fixture(autouse=True)
def fresh_private_cache(monkeypatch):
    monkeypatch.setattr(paths, "_private_done", set())


def settings_with(tmp_path, system_text="", user_text=""):
    system, user = tmp_path / "system.toml", tmp_path / "user.toml"
    system.write_text(system_text, encoding="utf-8")
    user.write_text(user_text, encoding="utf-8")
    return load_settings(environ={}, system_file=system, user_file=user)


@posix_only
def test_installer_root_gives_this_user_a_private_subdirectory(tmp_path, monkeypatch):
    monkeypatch.setenv("LOGNAME", "candidate01")
    root = tmp_path / "ZhishiyunData"
    settings = settings_with(tmp_path, f"data_dir = '{root}'\n")
    data = settings.data_path
    assert data == root / "candidate01"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    # what everything else derives from it lands inside the private directory
    assert paths.sessions_dir(data).parent == data and paths.queue_db(data).parent == data


@posix_only
def test_a_too_open_existing_user_directory_is_closed(tmp_path, monkeypatch):
    monkeypatch.setenv("LOGNAME", "candidate01")
    mine = tmp_path / "root" / "candidate01"
    mine.mkdir(parents=True)
    mine.chmod(0o755)
    data = settings_with(tmp_path, f"data_dir = '{mine.parent}'\n").data_path
    assert data == mine and stat.S_IMODE(mine.stat().st_mode) == 0o700


def test_two_os_users_get_different_directories(tmp_path, monkeypatch):
    root = tmp_path / "shared"
    monkeypatch.setenv("LOGNAME", "alice")
    monkeypatch.setenv("USERNAME", "alice")
    alice = paths.data_dir_for(str(root), machine_wide=True)
    monkeypatch.setenv("LOGNAME", "bob")
    monkeypatch.setenv("USERNAME", "bob")
    bob = paths.data_dir_for(str(root), machine_wide=True)
    assert alice != bob and alice.parent == bob.parent == root


def test_an_earlier_upload_queue_keeps_its_directory_when_the_root_arrives(tmp_path):
    earlier = paths.default_data_dir()
    earlier.mkdir(parents=True)
    paths.queue_db(earlier).write_bytes(b"")  # pending uploads from before the update
    root = tmp_path / "ZhishiyunData"
    assert settings_with(tmp_path, f"data_dir = '{root}'\n").data_path == earlier
    assert not root.exists()


def test_once_the_users_root_directory_exists_it_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv("LOGNAME", "candidate01")
    monkeypatch.setenv("USERNAME", "candidate01")
    earlier = paths.default_data_dir()
    earlier.mkdir(parents=True)
    paths.queue_db(earlier).write_bytes(b"")
    root = tmp_path / "ZhishiyunData"
    (root / "candidate01").mkdir(parents=True)
    assert settings_with(tmp_path, f"data_dir = '{root}'\n").data_path == root / "candidate01"


def test_a_data_dir_the_user_chose_is_used_as_it_is(tmp_path):
    chosen = tmp_path / "my-recordings"
    settings = settings_with(tmp_path, user_text=f"data_dir = '{chosen}'\n")
    assert settings.data_path == chosen
    assert not chosen.exists(), "nothing is created just by reading the setting"


def test_no_data_dir_means_the_per_user_default(tmp_path):
    assert settings_with(tmp_path).data_path == paths.default_data_dir()


def test_a_root_that_cannot_be_created_falls_back_to_the_default(tmp_path, caplog):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with caplog.at_level(logging.WARNING, logger="zhishiyun.paths"):
        data = paths.data_dir_for(str(blocker), machine_wide=True)
    assert data == paths.default_data_dir()
    assert "recordings go to" in caplog.text


@pytest.mark.parametrize(("account", "directory"), [
    ("candidate01", "candidate01"), ("EXAMPC\\li.wei", "EXAMPC_li.wei"), ("bob:", "bob_"),
    ("name. ", "name"), ("", "user"),
])
def test_os_user_name_is_one_safe_directory_name(monkeypatch, account, directory):
    for var in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.setenv(var, account)
    if not account:
        monkeypatch.setattr(paths.getpass, "getuser", lambda: "")
    assert paths.os_user_name() == directory


def test_windows_private_acl_is_user_system_and_administrators_only(tmp_path):
    whoami = ("whoami", "/user", "/fo", "csv", "/nh")
    target = tmp_path / "candidate01"
    icacls = ("icacls", str(target), "/inheritance:r", "/grant:r",
              "*S-1-5-21-1-2-3-1001:(OI)(CI)F", f"*{SYSTEM_SID}:(OI)(CI)F",
              f"*{ADMINISTRATORS_SID}:(OI)(CI)F", "/Q")
    system = FakeWindowsSystem(commands={
        whoami: CommandResult(0, '"exampc\\candidate01","S-1-5-21-1-2-3-1001"\r\n'),
        icacls: CommandResult(0, "Successfully processed 1 files")})
    WindowsPlatform(system).make_private(target)
    assert system.ran == [whoami, icacls]


def test_windows_acl_failure_is_an_os_error(tmp_path):
    whoami = ("whoami", "/user", "/fo", "csv", "/nh")
    system = FakeWindowsSystem(commands={whoami: CommandResult(0, '"pc\\u","S-1-5-21-9"\r\n')})
    with pytest.raises(OSError, match="icacls"):
        WindowsPlatform(system).make_private(Path("D:/ZhishiyunData/u"))
    with pytest.raises(OSError, match="SID"):
        WindowsPlatform(FakeWindowsSystem()).make_private(Path("D:/ZhishiyunData/u"))


@pytest.mark.skipif(sys.platform != "win32", reason="not on this OS: Windows ACLs")
def test_windows_private_dir_really_drops_inherited_access(tmp_path):
    import subprocess

    mine = paths.private_dir(tmp_path / "candidate")
    acl = subprocess.run(["icacls", str(mine)], capture_output=True, text=True).stdout
    assert os.environ["USERNAME"].lower() in acl.lower()
    assert "(I)" not in acl, acl  # nothing inherited from the parent
    assert "BUILTIN\\Users" not in acl and "Everyone" not in acl, acl
