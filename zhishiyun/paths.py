"""Where Zhishiyun keeps its files on each platform.

The system config file is written by the silent installer; the user config and data
directories come from platformdirs. ``ZHISHIYUN_HOME`` moves everything user-side under
one directory (development, tests, portable installs).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

from zhishiyun import APP_NAME

CONFIG_FILENAME = "zhishiyun.toml"


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
