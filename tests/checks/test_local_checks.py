"""disk, memory, os and processes on the real machine, through pass, warn and fail."""

from __future__ import annotations

import shutil
import subprocess
import sys

import psutil
import pytest

from zhishiyun.checks import CheckRunner, Status
from zhishiyun.checks.disk import DiskCheck, existing_ancestor
from zhishiyun.checks.memory import MemoryCheck
from zhishiyun.checks.processes import ProcessesCheck, normalize_process_name
from zhishiyun.checks.system import OsCheck, PlatformInfo
from zhishiyun.config import CheckThresholds

GIB = 1024**3


def run_one(check, context):
    return CheckRunner([check], context).run().results[0]


def recordings_free_gb(context):
    return shutil.disk_usage(existing_ancestor(context.settings.data_path)).free / GIB


def test_disk_passes_with_room(make_context):
    context = make_context(thresholds=CheckThresholds(disk_recordings_min_gb=0.01,
                                                      disk_system_min_gb=0.01))
    result = run_one(DiskCheck(), context)
    assert result.status is Status.PASS, result.message
    assert result.details["recordings_free_gb"] > 0.01 and "GB free" in result.message


def test_disk_warns_when_barely_enough(make_context):
    probe = make_context()
    need = recordings_free_gb(probe) / 1.1  # free space is just 10 % above the minimum
    context = make_context(thresholds=CheckThresholds(disk_recordings_min_gb=need,
                                                      disk_system_min_gb=0.01))
    result = run_one(DiskCheck(), context)
    assert result.status is Status.WARN, result.message
    assert "barely above" in result.message and result.fix


def test_disk_fails_below_the_minimum_and_names_the_numbers(make_context):
    probe = make_context()
    need = round(recordings_free_gb(probe) * 2 + 10)
    context = make_context(thresholds=CheckThresholds(disk_recordings_min_gb=need))
    result = run_one(DiskCheck(), context)
    assert result.status is Status.FAIL
    assert f"at least {need:g} GB is needed" in result.message
    assert result.blocking  # disk is in the default blocking list
    assert "Delete or move large files" in result.fix


def test_memory_pass_warn_fail(make_context):
    mem = psutil.virtual_memory()
    total, available = mem.total / GIB, mem.available / GIB
    ok = run_one(MemoryCheck(), make_context(thresholds=CheckThresholds(
        memory_total_min_gb=0.1, memory_available_min_gb=0.01)))
    assert ok.status is Status.PASS, ok.message
    short = run_one(MemoryCheck(), make_context(thresholds=CheckThresholds(
        memory_total_min_gb=0.1, memory_available_min_gb=available * 2 + 1)))
    assert short.status is Status.WARN and "Close programs" in short.fix
    small = run_one(MemoryCheck(), make_context(thresholds=CheckThresholds(
        memory_total_min_gb=round(total * 2 + 1))))
    assert small.status is Status.FAIL
    assert f"at least {round(total * 2 + 1):g} GB is needed" in small.message


def test_os_on_this_machine_is_reported_honestly(make_context):
    result = run_one(OsCheck(), make_context())
    if sys.platform.startswith("linux"):
        assert result.status is Status.WARN and "development and QA" in result.message
    else:  # pragma: no cover - Windows/macOS runners
        assert result.status is Status.PASS


@pytest.mark.parametrize(("info", "status", "words"), [
    (PlatformInfo("Windows", "10.0.19045", "Windows 10 (build 19045)"), Status.PASS,
     "is supported"),
    (PlatformInfo("Windows", "6.1.7601", "Windows 7 (build 7601)"), Status.FAIL,
     "needs Windows 10 or later"),
    (PlatformInfo("Darwin", "11.7", "macOS 11.7"), Status.FAIL, "needs macOS 12 or later"),
    (PlatformInfo("Darwin", "14.2", "macOS 14.2", "granted", "not_determined"), Status.PASS,
     "is supported"),
    (PlatformInfo("Darwin", "13.1", "macOS 13.1", "denied", "granted"), Status.FAIL,
     "not allowed to use: Screen Recording"),
])
def test_os_judges_versions_and_mac_permissions(make_context, info, status, words):
    result = run_one(OsCheck(info), make_context())
    assert result.status is status and words in result.message


@pytest.fixture
def prohibited_process(tmp_path):
    """A real process renamed like a remote-control tool (a copy of sleep named AnyDesk)."""
    exe = tmp_path / "AnyDesk"
    shutil.copy("/bin/sleep", exe)
    proc = subprocess.Popen([str(exe), "60"])
    yield proc
    proc.kill()
    proc.wait()


@pytest.mark.skipif(not shutil.which("sleep"), reason="needs /bin/sleep")
def test_processes_spots_a_renamed_remote_control_tool(make_context, prohibited_process):
    # Listed as "anydesk.exe": matching ignores case and the .exe suffix.
    context = make_context(thresholds=CheckThresholds(prohibited_processes=("anydesk.exe",
                                                                            "WeChat")))
    result = run_one(ProcessesCheck(), context)
    assert result.status is Status.FAIL
    assert "AnyDesk" in result.message
    assert {"pid": prohibited_process.pid, "name": "AnyDesk", "matches": "anydesk.exe"} in \
        result.details["found"]


@pytest.mark.skipif(not shutil.which("sleep"), reason="needs /bin/sleep")
def test_processes_default_list_spots_it_too(make_context, prohibited_process):
    result = run_one(ProcessesCheck(), make_context())
    assert result.status is Status.FAIL and "AnyDesk" in result.message


def test_processes_pass_when_nothing_prohibited_runs(make_context, prohibited_process):
    context = make_context(thresholds=CheckThresholds(prohibited_processes=("NoSuchTool",)))
    result = run_one(ProcessesCheck(), context)
    assert result.status is Status.PASS, result.message


@pytest.mark.parametrize(("raw", "normal"), [
    ("AnyDesk.exe", "anydesk"), ("WeChat.app", "wechat"), (r"C:\Tools\ToDesk.EXE", "todesk"),
    ("/Applications/QQ.app", "qq"), ("向日葵", "向日葵"),
])
def test_process_names_are_normalised(raw, normal):
    assert normalize_process_name(raw) == normal
