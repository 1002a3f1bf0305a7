"""``processes``: no prohibited chat or remote-control program is running."""

from __future__ import annotations

import os

import psutil

from zhishiyun.checks.base import Check, CheckResult, Status
from zhishiyun.checks.context import CheckContext
from zhishiyun.i18n import N_, _

_SUFFIXES = (".exe", ".app")


def normalize_process_name(name: str) -> str:
    """Lower case, without a directory and without a trailing ``.exe``/``.app``."""
    name = os.path.basename(name.strip().replace("\\", "/")).lower()
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name


def find_prohibited(prohibited: tuple[str, ...]) -> list[dict[str, object]]:
    """Running processes whose name (or executable name) is on the ``prohibited`` list."""
    wanted = {normalize_process_name(p): p for p in prohibited if p.strip()}
    found = []
    for proc in psutil.process_iter(["pid", "name", "exe"]):
        info = proc.info
        names = {normalize_process_name(n) for n in (info.get("name"), info.get("exe")) if n}
        hit = next((wanted[n] for n in names if n in wanted), None)
        if hit is not None:
            found.append({"pid": info["pid"], "name": info.get("name") or hit, "matches": hit})
    return found


class ProcessesCheck(Check):
    """Fails naming each running program from ``prohibited_processes``."""

    id = "processes"
    title = N_("Prohibited programs")
    timeout_s = 5.0

    def run(self, context: CheckContext) -> CheckResult:
        """Look through the running processes."""
        prohibited = context.thresholds.prohibited_processes
        found = find_prohibited(prohibited)
        details = {"found": found, "prohibited_count": len(prohibited),
                   "config_source": context.config_source}
        if not found:
            return self.result(Status.PASS, _("No chat or remote-control programs are "
                                              "running."), details=details)
        names = sorted({str(f["name"]) for f in found}, key=str.lower)
        return self.result(
            Status.FAIL,
            _("These programs must not run during the exam: {names}.").format(
                names=", ".join(names)),
            _("Quit them completely (also from the taskbar tray or the menu bar), then run "
              "the check again."), details)
