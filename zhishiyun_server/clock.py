"""The server's notion of now (UTC), with a test hook to shift it.

``ServerConfig.clock_offset_s`` (``ZHISHIYUN_SERVER_CLOCK_OFFSET``, read at start-up) is added
to the real time, so GUI and entry-window tests can put the server before or after a window.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

_offset = timedelta(0)


def configure(offset_s: float) -> None:
    """Shift this process's clock by ``offset_s`` seconds."""
    global _offset
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
