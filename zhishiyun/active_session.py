"""The "active session" record: what lets the next start offer to return to a running exam.

One small JSON file in the data directory, written atomically (temporary file, fsync,
rename). It has an end: once the exam's time is over it no longer counts as an exam in
progress, and it is removed when the session is finished or when the end plus
:data:`END_GRACE` has passed with nothing of the session left to upload. It holds no
secret (the session key is in the keyring, see :mod:`zhishiyun.exam.session_keys`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta, timezone
from pathlib import Path

from zhishiyun.paths import write_json_atomically

log = logging.getLogger(__name__)
RECORD_NAME = "active-session.json"
#: After the end: how long the record may still matter (clock skew, the finish on its way).
END_GRACE = timedelta(minutes=10)


@dataclass(frozen=True)
class ActiveSession:
    """An exam the candidate entered and has not finished."""

    server_url: str
    exam_id: int
    exam_name: str
    kind: str
    session_id: str
    session_dir: str
    ends_at: str = ""


def record_path(data_dir: str | Path) -> Path:
    """Where the record lives in ``data_dir``."""
    return Path(data_dir) / RECORD_NAME


def save_active(data_dir: str | Path, record: ActiveSession) -> None:
    """Write the record atomically."""
    write_json_atomically(record_path(data_dir), asdict(record))


def read_record(data_dir: str | Path) -> ActiveSession | None:
    """The record as stored, stale or not; None when there is none or it is unreadable."""
    path = record_path(data_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        known = {f.name for f in fields(ActiveSession)}
        return ActiveSession(**{k: v for k, v in data.items() if k in known})
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError) as exc:
        log.warning("active-session record unreadable (%s); ignored", exc)
        return None


def is_over(record: ActiveSession, now: datetime | None = None,
            grace: timedelta = timedelta(0)) -> bool:
    """True once the exam's end (plus ``grace``) has passed; False when the end is unknown."""
    try:
        ends_at = datetime.fromisoformat(record.ends_at) if record.ends_at else None
    except ValueError:
        ends_at = None
    if ends_at is None:
        return False
    if ends_at.tzinfo is None:
        ends_at = ends_at.replace(tzinfo=timezone.utc)
    return (now or datetime.now(timezone.utc)) >= ends_at + grace


def load_active(data_dir: str | Path, server_url: str | None = None,
                now: datetime | None = None) -> ActiveSession | None:
    """The record of an exam whose time is still running (for this server when given).

    A record whose exam has ended (``now``: server time when known, else this computer's)
    is stale: it offers no return to the exam and holds back no update.
    """
    record = read_record(data_dir)
    if record is None or is_over(record, now):
        return None
    if server_url and record.server_url.rstrip("/") != server_url.rstrip("/"):
        return None
    return record


def clear_active(data_dir: str | Path, session_id: str | None = None) -> None:
    """Remove the record (only if it is ``session_id``'s when given)."""
    record = read_record(data_dir)
    if record is not None and session_id and record.session_id != session_id:
        return
    record_path(data_dir).unlink(missing_ok=True)
