"""What the operating system tells about the computer an exam runs on, and asks of it.

One module per platform implements :class:`~zhishiyun.platform.base.Platform`:
virtual-machine detection, remote-session detection, keep-awake while recording, battery
state. :func:`current` picks the one for this computer. Known virtual cameras and audio
devices are matched by name in :mod:`zhishiyun.platform.virtual_devices` on every platform.
"""

from __future__ import annotations

import functools
import sys

from zhishiyun.platform.base import (
    KeepAwakeStatus,
    Platform,
    PowerStatus,
    RemoteSessionReport,
    System,
    VmReport,
)
from zhishiyun.platform.virtual_devices import (
    KNOWN_VIRTUAL_DEVICES,
    VirtualDeviceMatch,
    match_virtual_devices,
)


def for_platform(name: str, system: System | None = None) -> Platform:
    """The implementation for a ``sys.platform`` value ("win32", "darwin", "linux", ...)."""
    if name == "win32":
        from zhishiyun.platform.windows import WindowsPlatform

        return WindowsPlatform(system)  # type: ignore[arg-type]
    if name == "darwin":
        from zhishiyun.platform.macos import MacPlatform

        return MacPlatform(system)  # type: ignore[arg-type]
    from zhishiyun.platform.linux import LinuxPlatform

    return LinuxPlatform(system)


@functools.cache
def current() -> Platform:
    """The implementation for this computer (one shared instance)."""
    return for_platform(sys.platform)


__all__ = [
    "KNOWN_VIRTUAL_DEVICES", "KeepAwakeStatus", "Platform", "PowerStatus",
    "RemoteSessionReport", "System", "VirtualDeviceMatch", "VmReport", "current",
    "for_platform", "match_virtual_devices",
]
