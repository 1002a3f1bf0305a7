"""The server's notion of now (UTC), with a test hook to shift it.

``ZHISHIYUN_SERVER_CLOCK_OFFSET`` (float seconds, read at start-up) is added to the real
time, so GUI and entry-window tests can put the server before or after a window.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

_offset = timedelta(0)


def configure(offset_s: float | None = None) -> None:
    """Set the offset from ``offset_s`` or, when None, from the environment."""
    global _offset
    if offset_s is None:
        raw = os.environ.get("ZHISHIYUN_SERVER_CLOCK_OFFSET", "").strip()
        offset_s = float(raw) if raw else 0.0
    _offset = timedelta(seconds=offset_s)


def now() -> datetime:
    """The current server time, timezone-aware UTC."""
    return datetime.now(timezone.utc) + _offset


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with offset (UTC), or None."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds")
