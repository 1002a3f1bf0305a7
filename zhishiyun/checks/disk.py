"""``disk``: free space where recordings are kept and on the system volume."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from zhishiyun import paths
from zhishiyun.checks.base import Check, CheckResult, Status, gb
from zhishiyun.checks.context import CheckContext
from zhishiyun.i18n import N_, _

#: Free space below this many times the minimum is reported as a warning.
WARN_MARGIN = 1.25


def existing_ancestor(path: Path) -> Path:
    """The nearest existing directory at or above ``path`` (the data dir may not exist yet)."""
    path = path.expanduser().absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _volume_id(path: Path) -> object:
    try:
        return os.stat(path).st_dev
    except OSError:
        return str(path)


class DiskCheck(Check):
    """Free space: the recordings volume (default 20 GB) and the system volume (5 GB)."""

    id = "disk"
    title = N_("Disk space")
    timeout_s = 3.0

    def run(self, context: CheckContext) -> CheckResult:
        """Compare free space on both volumes with the thresholds."""
        limits = context.thresholds
        data = existing_ancestor(context.settings.data_path)
        system = paths.system_drive_root()
        same = _volume_id(data) == _volume_id(system)
        volumes = [("recordings", data, limits.disk_recordings_min_gb)]
        if same:
            volumes[0] = ("recordings", data, max(limits.disk_recordings_min_gb,
                                                  limits.disk_system_min_gb))
        else:
            volumes.append(("system", system, limits.disk_system_min_gb))

        details: dict[str, object] = {"same_volume": same, "config_source": context.config_source}
        worst = Status.PASS
        problems: list[str] = []
        for role, path, need in volumes:
            free = gb(shutil.disk_usage(path).free)
            details[f"{role}_path"] = str(path)
            details[f"{role}_free_gb"] = free
            details[f"{role}_min_gb"] = need
            where = _("the drive with the recordings ({path})") if role == "recordings" else \
                _("the system drive ({path})")
            where = where.format(path=path)
            if free < need:
                worst = Status.FAIL
                problems.append(_("only {free:g} GB free on {where}, at least {need:g} GB is "
                                  "needed").format(free=free, where=where, need=need))
            elif free < need * WARN_MARGIN:
                worst = Status.WARN if worst is Status.PASS else worst
                problems.append(_("{free:g} GB free on {where}, barely above the {need:g} GB "
                                  "needed").format(free=free, where=where, need=need))

        if worst is Status.PASS:
            parts = [_("{free:g} GB free on {path}").format(free=details[f"{r}_free_gb"],
                                                            path=p) for r, p, _n in volumes]
            return self.result(Status.PASS, _("Enough free space: {parts}.").format(
                parts="; ".join(parts)), details=details)
        message = _("Not enough free disk space: {problems}.") if worst is Status.FAIL else \
            _("Disk space is tight: {problems}.")
        fix = _("Delete or move large files (videos, downloads, the recycle bin) until there "
                "is enough free space, then run the check again. Without it the exam video "
                "cannot be saved completely.")
        return self.result(worst, message.format(problems="; ".join(problems)), fix, details)
