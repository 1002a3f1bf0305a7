"""Keep-awake with each OS's answers supplied (runs on every OS)."""

from __future__ import annotations

import threading

import pytest

from tests.platform.fakes import FakeMacSystem, FakeSystem, FakeWindowsSystem
from zhishiyun.platform.linux import LinuxPlatform
from zhishiyun.platform.macos import ASSERTION_TYPES, MacPlatform
from zhishiyun.platform.windows import (
    ES_CONTINUOUS,
    ES_DISPLAY_REQUIRED,
    ES_SYSTEM_REQUIRED,
    WindowsPlatform,
)


def test_windows_state_is_set_and_cleared_by_one_thread_that_is_not_the_callers():
    system = FakeWindowsSystem()
    with WindowsPlatform(system).keep_awake("exam recording") as status:
        assert status.active and status.method == "SetThreadExecutionState" and status.display
        assert [flags for flags, _t in system.states] == [
            ES_CONTINUOUS | ES_SYSTEM_REQUIRED | ES_DISPLAY_REQUIRED]
    assert not status.active
    assert [flags for flags, _t in system.states][-1] == ES_CONTINUOUS
    owners = {thread for _f, thread in system.states}
    # the state dies with its thread: a worker that ends must not take it along
    assert len(owners) == 1 and threading.get_ident() not in owners


def test_windows_refused_state_is_reported_and_the_block_still_runs():
    system = FakeWindowsSystem(refuse_state=True)
    ran = False
    with WindowsPlatform(system).keep_awake("exam recording") as status:
        ran = True
    assert ran and not status.active and "SetThreadExecutionState" in status.reason
    assert len(system.states) == 1, "nothing to clear when it was refused"


def test_macos_display_and_system_assertions_are_released_after_the_block():
    system = FakeMacSystem()
    with MacPlatform(system).keep_awake("exam recording") as status:
        assert status.active and status.method == "IOPMAssertion"
        assert sorted(kind for kind, _n in system.assertions.values()) == sorted(ASSERTION_TYPES)
        assert {name for _k, name in system.assertions.values()} == {"Zhishiyun: exam recording"}
        assert system.released == []
    assert sorted(system.released) == sorted(system.assertions)


def test_macos_refused_assertion_without_caffeinate_is_a_clear_inactive_result():
    system = FakeMacSystem(refuse_assertions=True)
    with MacPlatform(system).keep_awake("exam recording") as status:
        assert not status.active
    assert "IOKit refused" in status.reason and "caffeinate not found" in status.reason


def test_an_exception_inside_the_block_still_releases(monkeypatch):
    system = FakeMacSystem()
    with pytest.raises(RuntimeError), MacPlatform(system).keep_awake("exam"):
        raise RuntimeError("recording failed")
    assert sorted(system.released) == sorted(system.assertions)


def test_linux_without_system_bus_or_systemd_inhibit_says_why(monkeypatch):
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/system_bus_socket")
    with LinuxPlatform(FakeSystem()).keep_awake("exam recording") as status:
        assert not status.active
    assert "system D-Bus is unreachable" in status.reason
    assert "systemd-inhibit: not installed" in status.reason
