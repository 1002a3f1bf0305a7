"""Hand a verified installer over to the operating system and let the client exit.

Windows: ``ZhishiyunSetup.exe /S /UPDATE`` started through ShellExecute "runas" (UAC asks
for consent); the NSIS installer waits for the running ``zhishiyun.exe`` to exit, keeps the
install directory and the system config, and starts the new client unelevated.
macOS: ``installer -pkg … -target /`` through ``osascript … with administrator privileges``
(macOS asks for an administrator password), then the app is opened again as the candidate.
Linux (development/QA): the downloaded file is an executable run with ``--silent``.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from zhishiyun.i18n import _
from zhishiyun.update.release import UpdateError

log = logging.getLogger(__name__)

#: Starts a detached process from an argument list (``subprocess.Popen`` by default).
Launcher = Callable[[Sequence[str]], object]


def installer_command(installer: Path, platform: str) -> list[str]:
    """The silent-install command line for a verified installer file."""
    if platform == "windows":
        return [str(installer), "/S", "/UPDATE"]
    if platform == "macos":
        quoted = str(installer).replace("\\", "\\\\").replace('"', '\\"')
        install = (f'do shell script "/usr/sbin/installer -pkg " & quoted form of "{quoted}" '
                   f'& " -target /" with administrator privileges')
        # runs only when the install succeeded, and as the candidate (not as root)
        relaunch = 'do shell script "/usr/bin/open -n /Applications/Zhishiyun.app"'
        return ["/usr/bin/osascript", "-e", install, "-e", relaunch]
    installer.chmod(0o755)
    return [str(installer), "--silent"]


def _detached_popen(command: Sequence[str]) -> object:
    if sys.platform == "win32" and command[0].lower().endswith(".exe"):  # pragma: no cover
        # The installer asks for administrator rights: CreateProcess (Popen) would fail with
        # ERROR_ELEVATION_REQUIRED; ShellExecute "runas" shows the UAC prompt instead.
        os.startfile(command[0], "runas", subprocess.list2cmdline(command[1:]))
        return None
    kwargs: dict = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL,
                    "stderr": subprocess.DEVNULL, "close_fds": True}
    if sys.platform == "win32":  # pragma: no cover - Windows only
        kwargs["creationflags"] = (subprocess.DETACHED_PROCESS
                                   | subprocess.CREATE_NEW_PROCESS_GROUP)
    else:
        kwargs["start_new_session"] = True
    return subprocess.Popen(list(command), **kwargs)


def hand_off(installer: Path, platform: str, launcher: Launcher | None = None) -> list[str]:
    """Start the installer detached from this process; the caller exits afterwards.

    Returns:
        The command that was started.

    Raises:
        UpdateError: code ``handoff_failed`` when the installer cannot be started.
    """
    command = installer_command(installer, platform)
    log.info("handing over to the installer: %s", " ".join(command))
    try:
        (launcher or _detached_popen)(command)
    except OSError as exc:
        raise UpdateError(_("The update installer could not be started."),
                          hint=str(exc), code="handoff_failed") from exc
    return command

