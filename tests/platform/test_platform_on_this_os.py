"""The probes asking the real operating system, each on its own OS (the workflow runs all three).

GitHub-hosted runners are virtual machines on every OS, so there the VM probe must say so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from tests.conftest import require
from zhishiyun.platform import current

ON_GITHUB_RUNNER = os.environ.get("RUNNER_ENVIRONMENT") == "github-hosted"
linux_only = pytest.mark.skipif(sys.platform != "linux", reason="not on this OS: Linux only")
macos_only = pytest.mark.skipif(sys.platform != "darwin", reason="not on this OS: macOS only")
windows_only = pytest.mark.skipif(sys.platform != "win32", reason="not on this OS: Windows only")


def probe(env_changes: dict[str, str | None]) -> dict:
    """``python -m zhishiyun.platform`` in a child with a changed environment."""
    env = dict(os.environ)
    for key, value in env_changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    done = subprocess.run([sys.executable, "-m", "zhishiyun.platform"], env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout)


def test_vm_probe_reports_this_machine():
    report = current().virtual_machine()
    print(f"VM probe on {sys.platform}: {report}")
    if ON_GITHUB_RUNNER:
        assert report.virtual, report
    if sys.platform == "linux" and shutil.which("systemd-detect-virt"):
        said = subprocess.run(["systemd-detect-virt", "--vm"], capture_output=True, text=True)
        assert report.virtual == (said.returncode == 0), (report, said.stdout)


@linux_only
def test_linux_remote_session_from_the_real_environment():
    local = probe({"SSH_CONNECTION": None, "SSH_CLIENT": None, "SSH_TTY": None,
                   "DISPLAY": ":0"})["remote_session"]
    ssh = probe({"SSH_CONNECTION": "10.0.0.5 51234 10.0.0.9 22",
                 "DISPLAY": "localhost:10.0"})["remote_session"]
    assert ssh["remote"]
    assert "forwarded X display: DISPLAY=localhost:10.0" in ssh["evidence"]
    assert not local["remote"] or all(e.startswith("process:") for e in local["evidence"]), local


@linux_only
def test_linux_keep_awake_without_a_system_bus_is_a_clear_unsupported_result():
    status = probe({"DBUS_SYSTEM_BUS_ADDRESS": "unix:path=/nonexistent/bus"})["keep_awake"]
    assert not status["active"]
    assert "system D-Bus is unreachable" in status["reason"]
    if shutil.which("systemd-inhibit"):
        assert "systemd-inhibit: " in status["reason"]


def _logind_reachable() -> bool:
    if not shutil.which("systemd-inhibit"):
        return False
    listed = subprocess.run(["systemd-inhibit", "--list", "--no-pager"], capture_output=True,
                            text=True, timeout=10)
    return listed.returncode == 0


@linux_only
def test_linux_keep_awake_holds_a_logind_inhibitor_while_recording():
    if not _logind_reachable():
        if any(os.path.exists(m) for m in ("/.dockerenv", "/run/.containerenv")):
            # a container has no logind by design: the job declares this skip allowed and
            # runs the test again on a systemd host (linux-host)
            pytest.skip("systemd-logind missing: this is a container")
        require("systemd-logind", "keep-awake needs logind on the system D-Bus")

    def listed() -> str:
        return subprocess.run(["systemd-inhibit", "--list", "--no-pager"], capture_output=True,
                              text=True, timeout=10).stdout

    with current().keep_awake("exam recording test") as status:
        assert status.active, status
        assert "exam recording test" in listed()
    for _ in range(50):
        if "exam recording test" not in listed():
            break
        time.sleep(0.1)
    assert "exam recording test" not in listed()


@macos_only
def test_macos_keep_awake_appears_in_pmset_assertions():
    def assertions() -> str:
        return subprocess.run(["pmset", "-g", "assertions"], capture_output=True, text=True,
                              timeout=20).stdout

    with current().keep_awake("exam recording test") as status:
        assert status.active and status.method == "IOPMAssertion", status
        assert "Zhishiyun: exam recording test" in assertions()
    assert "Zhishiyun: exam recording test" not in assertions()


@macos_only
def test_macos_ssh_login_is_a_remote_session():
    report = probe({"SSH_CONNECTION": "10.0.0.5 51234 10.0.0.9 22"})["remote_session"]
    assert report["remote"] and "SSH_CONNECTION is set" in report["evidence"]


@windows_only
def test_windows_keep_awake_appears_in_powercfg_requests():
    def requests() -> str:
        return subprocess.run(["powercfg", "/requests"], capture_output=True, text=True,
                              timeout=30).stdout.lower()

    exe = os.path.basename(sys.executable).lower()
    with current().keep_awake("exam recording test") as status:
        assert status.active and status.method == "SetThreadExecutionState", status
        display = requests().split("system:")[0]
        assert exe in display, display
    assert exe not in requests().split("system:")[0]


@windows_only
def test_windows_remote_session_probe_reads_the_real_session():
    rdp = probe({"SESSIONNAME": "RDP-Tcp#7"})["remote_session"]
    assert rdp["remote"] and "SESSIONNAME=RDP-Tcp#7" in rdp["evidence"]
    console = probe({"SESSIONNAME": "Console"})["remote_session"]
    print(f"remote-session probe on this runner: {console}")
    if ON_GITHUB_RUNNER:
        assert not console["remote"], console


def test_power_status_from_the_real_system():
    """Runners are batteryless VMs; elsewhere the status is printed for the record."""
    status = current().power()
    print(f"power on {sys.platform}: {status}")
    if ON_GITHUB_RUNNER:
        assert not status.has_battery and not status.on_battery, status
