"""The "active session" record: what lets the next start offer to return to a running exam.

One small JSON file in the data directory, written atomically (temporary file, fsync,
rename). It holds no secret: the session key comes back from the server when the client
enters again (``POST /exams/{id}/sessions`` returns the same session while it runs).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path

log = logging.getLogger(__name__)
RECORD_NAME = "active-session.json"


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
    path = record_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".active-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(asdict(record), handle, ensure_ascii=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_active(data_dir: str | Path, server_url: str | None = None) -> ActiveSession | None:
    """The record, or None (none, unreadable, or for another server)."""
    path = record_path(data_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        known = {f.name for f in fields(ActiveSession)}
        record = ActiveSession(**{k: v for k, v in data.items() if k in known})
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError) as exc:
        log.warning("active-session record unreadable (%s); ignored", exc)
        return None
    if server_url and record.server_url.rstrip("/") != server_url.rstrip("/"):
        return None
    return record


def clear_active(data_dir: str | Path, session_id: str | None = None) -> None:
    """Remove the record (only if it is ``session_id``'s when given)."""
    record = load_active(data_dir)
    if record is not None and session_id and record.session_id != session_id:
        return
    record_path(data_dir).unlink(missing_ok=True)
