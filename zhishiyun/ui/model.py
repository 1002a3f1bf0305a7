"""Plain helpers the pages use to read server replies (dicts or typed models) and show times."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from zhishiyun.i18n import _


def get(obj: Any, name: str, default: Any = None) -> Any:
    """``obj[name]`` for mappings, ``obj.name`` otherwise."""
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def as_time(value: Any) -> datetime | None:
    """An aware datetime from a datetime or an ISO 8601 string."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def local_text(value: Any, with_seconds: bool = False) -> str:
    """A moment as local wall-clock text, ``2026-11-23 19:30``."""
    moment = as_time(value)
    if moment is None:
        return "—"
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S" if with_seconds
                                        else "%Y-%m-%d %H:%M")


def duration_text(seconds: Any) -> str:
    """``90 minutes`` / ``1 h 30 min`` in the current language."""
    total = int(seconds or 0) // 60
    hours, minutes = divmod(total, 60)
    if hours and minutes:
        return _("{h} h {m} min").format(h=hours, m=minutes)
    if hours:
        return _("{h} h").format(h=hours)
    return _("{m} min").format(m=minutes)


def countdown_text(seconds: float) -> str:
    """``01:02:03`` style remaining time."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}"


def size_text(size: Any) -> str:
    """Bytes as KB/MB."""
    size = float(size or 0)
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.1f} MB"
    return f"{max(1, round(size / 1024))} KB"
