"""Where Zhishiyun keeps its files on each platform.

The system config file is written by the silent installer; the user config and data
directories come from platformdirs. ``ZHISHIYUN_HOME`` moves everything user-side under
one directory (development, tests, portable installs).

A ``data_dir`` in the system file is a root shared by every OS user of the computer: the
Windows installer writes one on the drive it installed to (recordings need room, and the
system drive is often small). Each OS user then gets a subdirectory of it that only they
can open.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import re
import sys
import tempfile
import threading
from pathlib import Path

import platformdirs

from zhishiyun import APP_NAME

log = logging.getLogger(__name__)

CONFIG_FILENAME = "zhishiyun.toml"
_private_lock = threading.Lock()
_private_done: set[Path] = set()


def system_config_file() -> Path:
    """The organisation-wide config file written by the installer."""
    override = os.environ.get("ZHISHIYUN_SYSTEM_CONFIG")
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = os.environ.get("PROGRAMDATA", r"C:\ProgramData")
        return Path(base) / APP_NAME / CONFIG_FILENAME
    if sys.platform == "darwin":
        return Path("/Library/Application Support") / APP_NAME / CONFIG_FILENAME
    return Path("/etc/zhishiyun") / CONFIG_FILENAME


def _home_override() -> Path | None:
    home = os.environ.get("ZHISHIYUN_HOME")
    return Path(home) if home else None


def user_config_file() -> Path:
    """The candidate's own settings file (language, last server, window geometry)."""
    home = _home_override()
    if home:
        return home / "config" / CONFIG_FILENAME
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / CONFIG_FILENAME


def default_data_dir() -> Path:
    """Default root for recordings, the upload queue and logs (``data_dir`` overrides it)."""
    home = _home_override()
    if home:
        return home / "data"
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def os_user_name() -> str:
    """This OS account's name, made safe to use as one directory name."""
    try:
        name = getpass.getuser()
    except (OSError, KeyError):
        name = ""
    return re.sub(r'[\\/:*?"<>|\x00-\x1f]', "_", name).strip(" .") or "user"


def data_dir_for(configured: str | Path, *, machine_wide: bool) -> Path:
    """The directory a ``data_dir`` setting stands for.

    Args:
        configured: The setting's value; empty means the per-user default.
        machine_wide: True when it came from the system file: then it is a root shared
            by all OS users, and this user's own private subdirectory of it is returned
            (created if needed). If that cannot be created, the per-user default is used
            so that nothing recorded is lost; so it is while this user's default still
            holds an upload queue from before the root was set and the root has no
            directory of theirs yet (their pending recordings stay where they are found).
    """
    if not configured:
        return default_data_dir()
    root = Path(configured)
    if not machine_wide:
        return root
    mine = root / os_user_name()
    earlier = default_data_dir()
    if not mine.exists() and queue_db(earlier).exists():
        log.info("keeping %s: it holds this user's upload queue (data_dir root %s)",
                 earlier, root)
        return earlier
    try:
        return private_dir(mine)
    except OSError as exc:
        fallback = default_data_dir()
        log.warning("cannot use %s (%s); recordings go to %s", mine, exc, fallback)
        return fallback


def private_dir(path: Path) -> Path:
    """Create ``path`` if needed and make it openable by this OS user only.

    The permissions are set once per process and path (on Windows that is an ``icacls``
    call). Raises OSError when the directory cannot be created or restricted.
    """
    from zhishiyun import platform

    with _private_lock:
        if path in _private_done:
            return path
        path.mkdir(parents=True, exist_ok=True)
        platform.current().make_private(path)
        _private_done.add(path)
    return path


def logs_dir(data_dir: Path) -> Path:
    """Rotating log files."""
    return data_dir / "logs"


def sessions_dir(data_dir: Path) -> Path:
    """Recordings: ``sessions/<sid>/<track>/<seq>.mp4`` plus ``manifest.jsonl``."""
    return data_dir / "sessions"


def queue_db(data_dir: Path) -> Path:
    """The persistent upload queue (SQLite, WAL)."""
    return data_dir / "upload-queue.sqlite3"


def resources_dir() -> Path:
    """Icons, translations, demo files and the update public key shipped with the client."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "zhishiyun" / "resources"
    return Path(__file__).resolve().parent / "resources"


def system_drive_root() -> Path:
    """Root of the volume that holds the operating system."""
    if sys.platform == "win32":
        return Path(os.environ.get("SystemDrive", "C:") + "\\")
    return Path("/")


def write_json_atomically(path: Path, data: object) -> None:
    """Write ``data`` as JSON to ``path`` so that a crash leaves the old file or the new one.

    A temporary file beside it is written and fsynced, then renamed over it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
