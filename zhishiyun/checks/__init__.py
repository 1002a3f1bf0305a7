"""Pre-exam system checks: one class per check, a concurrent runner, reporters.

Use from any thread except a UI thread (no Qt here)::

    from zhishiyun.checks import CheckContext, CheckRunner, create_checks

    runner = CheckRunner(create_checks(), CheckContext(settings), on_result=print)
    report = runner.run()          # results also arrive one by one through on_result
    report.ok, report.blocked, report.to_dict()
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from zhishiyun.checks.base import Check, CheckResult, Status
from zhishiyun.checks.context import CheckContext
from zhishiyun.checks.runner import CheckReport, CheckRunner

#: Every check id, in the order the start-up page shows them (server → version → clock → …).
CHECK_CLASSES: dict[str, str] = {
    "server": "zhishiyun.checks.server:ServerCheck",
    "version": "zhishiyun.checks.version:VersionCheck",
    "clock": "zhishiyun.checks.clock:ClockCheck",
    "disk": "zhishiyun.checks.disk:DiskCheck",
    "memory": "zhishiyun.checks.memory:MemoryCheck",
    "os": "zhishiyun.checks.system:OsCheck",
    "camera": "zhishiyun.checks.camera:CameraCheck",
    "microphone": "zhishiyun.checks.microphone:MicrophoneCheck",
    "display": "zhishiyun.checks.display:DisplayCheck",
    "processes": "zhishiyun.checks.processes:ProcessesCheck",
    "bandwidth": "zhishiyun.checks.bandwidth:BandwidthCheck",
}
ALL_CHECK_IDS: tuple[str, ...] = tuple(CHECK_CLASSES)
#: Checks that need a configured server to mean anything.
SERVER_CHECK_IDS: tuple[str, ...] = ("server", "version", "bandwidth")
#: The set run before every exam start-up: everything but the bandwidth upload.
LOCAL_SET: tuple[str, ...] = tuple(i for i in ALL_CHECK_IDS if i != "bandwidth")


def check_class(check_id: str) -> type[Check]:
    """The class implementing ``check_id`` (``KeyError`` for an unknown id)."""
    module_name, class_name = CHECK_CLASSES[check_id].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def create_checks(ids: Iterable[str] | None = None) -> list[Check]:
    """New check instances for ``ids`` (all when omitted), in the canonical order."""
    wanted = set(ALL_CHECK_IDS if ids is None else ids)
    unknown = wanted - set(ALL_CHECK_IDS)
    if unknown:
        raise KeyError(f"unknown check id(s): {', '.join(sorted(unknown))}")
    return [check_class(i)() for i in ALL_CHECK_IDS if i in wanted]


__all__ = [
    "ALL_CHECK_IDS", "CHECK_CLASSES", "LOCAL_SET", "SERVER_CHECK_IDS", "Check", "CheckContext",
    "CheckReport", "CheckResult", "CheckRunner", "Status", "check_class", "create_checks",
]
