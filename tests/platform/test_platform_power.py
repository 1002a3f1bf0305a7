"""Battery state from psutil's answers, and the implementation chosen per OS."""

from __future__ import annotations

from collections import namedtuple

import psutil
import pytest

from tests.platform.fakes import FakeSystem
from zhishiyun.platform import for_platform
from zhishiyun.platform.linux import LinuxPlatform
from zhishiyun.platform.macos import MacPlatform
from zhishiyun.platform.windows import WindowsPlatform

#: the shape of psutil.sensors_battery()'s answer (its own class moves between versions)
sbattery = namedtuple("sbattery", ("percent", "secsleft", "power_plugged"))


def power(battery):
    return LinuxPlatform(FakeSystem(battery=battery)).power()


def test_desktop_without_battery():
    status = power(None)
    assert not status.has_battery and status.plugged and not status.on_battery


def test_laptop_on_battery_with_time_left():
    status = power(sbattery(percent=23.0, secsleft=1800, power_plugged=False))
    assert status.on_battery and status.percent == 23.0 and status.seconds_left == 1800


def test_laptop_charging_has_no_time_left():
    status = power(sbattery(percent=80, secsleft=psutil.POWER_TIME_UNLIMITED, power_plugged=True))
    assert status.has_battery and not status.on_battery and status.seconds_left is None


def test_unknown_time_and_unknown_plug_state():
    status = power(sbattery(percent=50, secsleft=psutil.POWER_TIME_UNKNOWN, power_plugged=None))
    assert status.seconds_left is None and status.plugged


@pytest.mark.parametrize(("name", "cls"), [("win32", WindowsPlatform), ("darwin", MacPlatform),
                                           ("linux", LinuxPlatform), ("freebsd14", LinuxPlatform)])
def test_for_platform_picks_one_module_per_os(name, cls):
    assert type(for_platform(name, FakeSystem())) is cls
