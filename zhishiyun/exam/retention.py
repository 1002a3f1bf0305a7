"""Local retention: a finished session's files leave this computer once the server has them.

When every segment file of a session directory is confirmed by the server (its upload
item is done), nothing of the session is pending and it is not the running exam, the
directory gets a ``confirmed`` mark with the time. ``local_retention_days`` (from the
server's ``/config``; default 7, 0 = at once) after that mark, the directory is deleted and
the session key forgotten. A segment the server has not confirmed is never deleted,
whatever the clock says: the check is made again at every sweep, right before deleting.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from zhishiyun.active_session import read_record
from zhishiyun.capture.recovery import segment_files
from zhishiyun.exam import session_keys
from zhishiyun.upload.queue import DONE, FAILED, UploadQueue

log = logging.getLogger(__name__)
DEFAULT_RETENTION_DAYS = 7
MARK_NAME = "confirmed"
#: ``{"exam_id", "exam_name", "kind"}`` of a session directory (written at entry).
EXAM_INFO_NAME = "exam.json"


@dataclass(frozen=True)
class LocalSession:
    """What this computer holds of one exam session."""

    session_id: str
    exam_name: str
    #: Every file of the session directory (recordings, answers, events, manifest).
    bytes: int
    segments: int
    #: The server confirmed every segment; ``delete_at`` (epoch seconds) once marked.
    confirmed: bool
    delete_at: float | None


def write_exam_info(session_dir: Path, exam_id: int, exam_name: str, kind: str) -> None:
    """Name the exam of a session directory (for :func:`holdings`)."""
    try:
        (session_dir / EXAM_INFO_NAME).write_text(json.dumps(
            {"exam_id": exam_id, "exam_name": exam_name, "kind": kind}, ensure_ascii=False),
            encoding="utf-8")
    except OSError as exc:  # only the name shown on the support page is missing then
        log.warning("session %s: exam name not written (%s)", session_dir.name, exc)


def _exam_name(session_dir: Path) -> str:
    try:
        return str(json.loads((session_dir / EXAM_INFO_NAME).read_text("utf-8"))["exam_name"])
    except (OSError, ValueError, KeyError, TypeError):
        return ""


def _size(directory: Path) -> int:
    total = 0
    for path in directory.rglob("*"):
        try:
            total += path.stat().st_size if path.is_file() else 0
        except OSError:  # deleted meanwhile (a sweep, a recorder closing a segment)
            continue
    return total


def holdings(queue: UploadQueue | None, data_dir: Path,
             retention_days: float = DEFAULT_RETENTION_DAYS) -> list[LocalSession]:
    """Every session directory on this computer: size, segments, confirmed, when deleted."""
    found = []
    root = Path(data_dir) / "sessions"
    for directory in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        size = _size(directory)
        confirmed = queue is not None and fully_confirmed(queue, directory.name, directory)
        delete_at = None
        try:
            delete_at = float((directory / MARK_NAME).read_text("utf-8").strip()) \
                + retention_days * 86400
        except (OSError, ValueError):
            pass
        found.append(LocalSession(directory.name, _exam_name(directory), size,
                                  len(segment_files(directory)), confirmed,
                                  delete_at if confirmed else None))
    return found


def fully_confirmed(queue: UploadQueue, session_id: str, session_dir: Path) -> bool:
    """True when the server confirmed every segment file here and nothing is left to send."""
    items = queue.items(session_id)
    if any(i.state not in (DONE, FAILED) for i in items):
        return False
    if any(i.state == FAILED for i in items if i.kind == "segment"):
        return False
    done = {Path(i.path).resolve() for i in items if i.kind == "segment" and i.state == DONE
            and i.path}
    files = [path.resolve() for _track, _seq, path in segment_files(session_dir)]
    return bool(files) and all(path in done for path in files)


def _remove(directory: Path, attempts: int = 3) -> None:
    """Delete a session directory, again if a late write (a journal file) came in between."""
    for _ in range(attempts):
        shutil.rmtree(directory, ignore_errors=True)
        if not directory.exists():
            return
        time.sleep(0.2)
    log.warning("%s could not be deleted completely; the next sweep tries again", directory)


def sweep(queue: UploadQueue, data_dir: Path, retention_days: float = DEFAULT_RETENTION_DAYS,
          now: float | None = None) -> list[str]:
    """Mark and delete confirmed sessions past their retention; the ids deleted."""
    now = time.time() if now is None else now
    active = read_record(data_dir)
    deleted = []
    for s in queue.sessions():
        directory = Path(s["session_dir"]) if s["session_dir"] else None
        if directory is None or not directory.is_dir():
            continue
        if active is not None and active.session_id == s["session_id"]:
            continue  # the running (or interrupted) exam
        if not fully_confirmed(queue, s["session_id"], directory):
            continue
        mark = directory / MARK_NAME
        if not mark.exists():
            # whole seconds rounded down: a mark rounded up would be "in the future" and
            # hold a 0-day retention until some later sweep
            mark.write_text(f"{int(now)}\n", encoding="utf-8")
        try:
            confirmed_at = float(mark.read_text(encoding="utf-8").strip() or now)
        except (OSError, ValueError):
            confirmed_at = now
        if now - confirmed_at >= retention_days * 86400:
            _remove(directory)
            session_keys.forget(s["session_id"])
            deleted.append(s["session_id"])
            log.info("session %s: the server has everything; local files deleted after "
                     "%s day(s)", s["session_id"], retention_days)
    return deleted
