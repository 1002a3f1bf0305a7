"""``zhishiyun diagnose [--out FILE]``: one zip for support, with every secret masked.

The zip holds ``logs/`` (the rotating log files), ``checks.json`` (``zhishiyun check
--headless --json`` run in a child process, so a crashing check cannot stop the collection),
``config.json`` (effective settings with their layer, secrets masked, config problems),
``config-files/`` (the system and user files, secret keys removed, then masked) and
``system.json`` (version, OS, Python, paths, free disk). Recordings, answers, tokens and
the keyring are never included.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import logging
import platform
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zhishiyun import __version__, paths
from zhishiyun.config import SETTINGS, Settings
from zhishiyun.errors import ZhishiyunError
from zhishiyun.i18n import _
from zhishiyun.log import mask

log = logging.getLogger(__name__)
CHECK_TIMEOUT_S = 180
_SECRET_KEYS = tuple(s.key for s in SETTINGS if s.secret)


class DiagnoseError(ZhishiyunError):
    """The diagnostics zip cannot be written."""

    code = "diagnose_failed"


def _self_command() -> list[str]:
    """How to start this same client again (frozen bundle or Python)."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "zhishiyun"]


def _check_results(settings: Settings, only: Sequence[str] | None) -> dict[str, Any]:
    command = [*_self_command(), "check", "--headless", "--json"]
    if only:
        command += ["--only", ",".join(only)]
    for option, key in (("--server", "server_url"), ("--data-dir", "data_dir"),
                        ("--ca-bundle", "ca_bundle")):
        if settings.values.get(key):
            command += [option, settings.values[key]]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=CHECK_TIMEOUT_S,
                              encoding="utf-8", errors="replace")
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"error": f"checks did not finish: {exc}"}
    try:
        results = json.loads(done.stdout)
    except ValueError:
        results = {"error": "checks printed no JSON", "stdout": done.stdout[-4000:]}
    return {"exit_code": done.returncode, "results": results, "stderr": done.stderr[-4000:]}


def _config_file_text(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    secret_line = re.compile(rf"^\s*({'|'.join(map(re.escape, _SECRET_KEYS))})\s*=.*$",
                             re.MULTILINE) if _SECRET_KEYS else None
    if secret_line:
        text = secret_line.sub(lambda m: f"{m.group(1)} = \"********\"", text)
    return mask(text)


def _disk_free(path: Path) -> dict[str, Any]:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        usage = shutil.disk_usage(probe)
    except OSError as exc:
        return {"path": str(path), "error": str(exc)}
    return {"path": str(path), "free_gb": round(usage.free / 1e9, 2),
            "total_gb": round(usage.total / 1e9, 2)}


def _system_info(settings: Settings) -> dict[str, Any]:
    return {
        "client_version": __version__,
        "frozen": bool(getattr(sys, "frozen", False)),
        "executable": sys.executable,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": sys.version.split()[0],
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "paths": {"system_config": str(paths.system_config_file()),
                  "user_config": str(paths.user_config_file()),
                  "data_dir": str(settings.data_path),
                  "logs": str(paths.logs_dir(settings.data_path))},
        "disk": [_disk_free(settings.data_path), _disk_free(paths.system_drive_root())],
    }


def default_out_path() -> Path:
    """``zhishiyun-diagnose-<UTC time>.zip`` on the desktop (else the current directory)."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    desktop = Path.home() / "Desktop"
    folder = desktop if desktop.is_dir() else Path.cwd()
    return folder / f"zhishiyun-diagnose-{stamp}.zip"


def write_zip(out: Path, settings: Settings, *, run_checks: bool = True,
              check_ids: Sequence[str] | None = None) -> Path:
    """Collect everything into ``out`` (written to a temporary name, then renamed).

    ``check_ids`` limits the checks (default: all of them).

    Raises:
        DiagnoseError: the zip cannot be written where asked.
    """
    def dump(data: Any) -> str:
        return mask(json.dumps(data, ensure_ascii=False, indent=2))

    tmp = out.with_name(out.name + ".tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("system.json", dump(_system_info(settings)))
            zf.writestr("config.json", dump({"settings": settings.describe(),
                                             "problems": settings.problems}))
            for label, path in (("system", paths.system_config_file()),
                                ("user", paths.user_config_file())):
                text = _config_file_text(path)
                if text is not None:
                    zf.writestr(f"config-files/{label}-{path.name}", text)
            logs = paths.logs_dir(settings.data_path)
            for log_file in sorted(logs.glob("*.log*")) if logs.is_dir() else []:
                text = log_file.read_text(encoding="utf-8", errors="replace")
                zf.writestr(f"logs/{log_file.name}", mask(text))
            checks = _check_results(settings, check_ids) if run_checks else {"skipped": True}
            zf.writestr("checks.json", dump(checks))
        tmp.replace(out)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        reason = exc.strerror or str(exc)
        if out.parent.exists() and not out.parent.is_dir():
            reason = _("{path} is not a folder").format(path=out.parent)
        raise DiagnoseError(_("Could not write the diagnostics file {path}: {reason}").format(
            path=out, reason=reason), hint=_("Choose another place with --out."),
        ) from exc
    return out


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Write the diagnostics zip and print where it is."""
    out = Path(args.out).expanduser() if getattr(args, "out", None) else default_out_path()
    print(_("Collecting logs, check results and settings…"), file=sys.stderr)
    path = write_zip(out.resolve(), settings)
    log.info("diagnostics written to %s", path)
    print(_("Diagnostics written to {path}. Send this file to support.").format(path=path))
    return 0
