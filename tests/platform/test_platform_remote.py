"""Remote-session detection with each OS's answers supplied (runs on every OS)."""

from __future__ import annotations

import pytest

from tests.platform.fakes import FakeMacSystem, FakeSystem, FakeWindowsSystem
from zhishiyun.platform.base import CommandResult
from zhishiyun.platform.linux import LinuxPlatform, display_is_forwarded
from zhishiyun.platform.macos import MacPlatform
from zhishiyun.platform.windows import SM_REMOTESESSION, TERMINAL_SERVER_KEY, WindowsPlatform


@pytest.mark.parametrize(("display", "forwarded"), [
    (":0", False), (":97", False), (":1.0", False), ("unix:0", False),
    ("/tmp/launch-abc/org.xquartz:0", False),
    ("localhost:10.0", True), ("192.168.1.20:0", True), ("examhost:11", True),
])
def test_forwarded_display(display, forwarded):
    assert display_is_forwarded(display) is forwarded


def test_linux_local_desktop_is_not_remote():
    system = FakeSystem(environ={"DISPLAY": ":0", "XDG_SESSION_TYPE": "x11"},
                        processes=["Xorg", "gnome-shell", "pulseaudio"])
    report = LinuxPlatform(system).remote_session()
    assert not report.remote and report.evidence == () and report.hints == ()


def test_linux_ssh_login_with_x_forwarding():
    system = FakeSystem(environ={"SSH_CONNECTION": "10.0.0.5 51234 10.0.0.9 22",
                                 "SSH_CLIENT": "10.0.0.5 51234 22", "DISPLAY": "localhost:10.0"})
    report = LinuxPlatform(system).remote_session()
    assert report.remote
    assert report.evidence == ("SSH_CONNECTION is set", "SSH_CLIENT is set",
                               "forwarded X display: DISPLAY=localhost:10.0")


def test_linux_x11vnc_sharing_the_local_display_is_remote():
    system = FakeSystem(environ={"DISPLAY": ":0"}, processes=["Xorg", "x11vnc"])
    report = LinuxPlatform(system).remote_session()
    assert report.remote and report.evidence == ("process: x11vnc",)


def test_linux_xrdp_session_vs_idle_xrdp_service():
    idle = LinuxPlatform(FakeSystem(environ={"DISPLAY": ":0"},
                                    processes=["xrdp", "xrdp-sesman"])).remote_session()
    assert not idle.remote and idle.hints == ("process: xrdp", "process: xrdp-sesman")
    session = LinuxPlatform(FakeSystem(environ={"DISPLAY": ":10"},
                                       processes=["xrdp", "xrdp-chansrv"])).remote_session()
    assert session.remote and "process: xrdp-chansrv" in session.evidence


def test_linux_logind_remote_session():
    argv = ("loginctl", "show-session", "c2", "-p", "Remote", "--value")
    system = FakeSystem(environ={"XDG_SESSION_ID": "c2", "WAYLAND_DISPLAY": "wayland-0"},
                        programs=["loginctl"], commands={argv: CommandResult(0, "yes\n")})
    report = LinuxPlatform(system).remote_session()
    assert report.remote and report.evidence == ("logind session c2 is remote",)


def test_macos_screen_sharing_connection_is_remote_and_ard_agent_only_a_hint():
    watching = MacPlatform(FakeMacSystem(processes=["WindowServer", "screensharingd",
                                                    "ARDAgent"])).remote_session()
    assert watching.remote and watching.evidence == ("process: screensharingd",)
    assert watching.hints == ("process: ardagent",)
    enabled = MacPlatform(FakeMacSystem(processes=["WindowServer", "ARDAgent"])).remote_session()
    assert not enabled.remote and enabled.hints == ("process: ardagent",)


def test_macos_ssh_login_is_remote():
    report = MacPlatform(FakeMacSystem(environ={"SSH_TTY": "/dev/ttys003"})).remote_session()
    assert report.remote and report.evidence == ("SSH_TTY is set",)


def test_windows_console_session_is_not_remote():
    system = FakeWindowsSystem(environ={"SESSIONNAME": "Console"}, session=1,
                               registry={(TERMINAL_SERVER_KEY, "GlassSessionId"): 1})
    assert not WindowsPlatform(system).remote_session().remote


def test_windows_rdp_by_metric_and_session_name():
    system = FakeWindowsSystem(environ={"SESSIONNAME": "RDP-Tcp#3"}, session=2,
                               metrics={SM_REMOTESESSION: 1},
                               registry={(TERMINAL_SERVER_KEY, "GlassSessionId"): 1})
    report = WindowsPlatform(system).remote_session()
    assert report.remote
    assert report.evidence == ("GetSystemMetrics(SM_REMOTESESSION) is nonzero",
                               "session 2 is not the console session 1", "SESSIONNAME=RDP-Tcp#3")


def test_windows_remotefx_session_caught_by_glass_session_id_alone():
    system = FakeWindowsSystem(session=3, registry={(TERMINAL_SERVER_KEY, "GlassSessionId"): 1})
    report = WindowsPlatform(system).remote_session()
    assert report.remote and report.evidence == ("session 3 is not the console session 1",)


def test_windows_service_session_zero_is_not_called_remote():
    system = FakeWindowsSystem(session=0, registry={(TERMINAL_SERVER_KEY, "GlassSessionId"): 1})
    assert not WindowsPlatform(system).remote_session().remote


def test_windows_vnc_server_is_a_hint():
    system = FakeWindowsSystem(processes=["explorer", "tvnserver"])
    report = WindowsPlatform(system).remote_session()
    assert not report.remote and report.hints == ("process: tvnserver",)
