"""Recovery at every start, before and independent of login.

A crash leaves the open segment of each track without its manifest line. At every start
(the GUI's runtime, ``zhishiyun exam run``, ``zhishiyun upload``), each registered session
directory with such a segment is recovered by :func:`zhishiyun.capture.recovery.recover_session`
(with the session key kept in the keyring), its manifest line written, and everything it
holds queued. Nobody has to re-enter the exam for its last seconds to reach the server.

Recovery must never touch a segment a recorder is still writing: it runs only while this
process holds the upload queue's lock, which every recording client process takes first.
After the uploads, an active-session record whose exam is over is removed
(:func:`tidy_record`), so a crash never leaves one behind for good.
"""

from __future__ import annotations

import argparse
import logging
from datetime import datetime
from pathlib import Path

from zhishiyun import paths
from zhishiyun.active_session import END_GRACE, clear_active, is_over, read_record
from zhishiyun.capture.manifest import MANIFEST_NAME, read_records
from zhishiyun.capture.recovery import recover_session, segment_files
from zhishiyun.config import Settings
from zhishiyun.exam import session_keys
from zhishiyun.exam.problems import describe, stuck_reason
from zhishiyun.upload.queue import PENDING, UPLOADING, UploadQueue
from zhishiyun.upload.session import SessionUploads
from zhishiyun.upload.worker import UploadsBusy, lock_exclusive, queue_lock_path

log = logging.getLogger(__name__)


def open_segments(session_dir: Path) -> list[tuple[str, int]]:
    """``(track, seq)`` of segment files that have no manifest line yet."""
    closed = {(str(r["track"]), int(r["seq"]))
              for r in read_records(session_dir / MANIFEST_NAME)}
    return [(track, seq) for track, seq, _path in segment_files(session_dir)
            if (track, seq) not in closed]


def recover_open_segments(queue: UploadQueue) -> int:
    """Recover and queue every open segment of every registered session; how many.

    Call only while holding the queue's lock (no recorder writes these directories).
    """
    recovered = 0
    for s in queue.sessions():
        directory = Path(s["session_dir"]) if s["session_dir"] else None
        if directory is None or not directory.is_dir() or not open_segments(directory):
            continue
        key = session_keys.lookup(s["session_id"])
        if not key:
            log.warning("session %s: open segment(s) but no session key on this computer; "
                        "they are recovered when the exam is entered again", s["session_id"])
            continue
        report = recover_session(directory, key)
        recovered += len(report.recovered)
        SessionUploads(queue, s["session_id"], s["upload_url"], s["api_url"],
                       directory).enqueue_session_dir()
        log.warning("session %s: %d segment(s) a crash left open recovered and queued",
                    s["session_id"], len(report.recovered))
    return recovered


def tidy_record(data_dir: Path, queue: UploadQueue, now: datetime | None = None) -> bool:
    """Remove the record of an exam that ended (plus grace) with nothing left to send."""
    record = read_record(data_dir)
    if record is None or not is_over(record, now, END_GRACE):
        return False
    if any(i.state in (PENDING, UPLOADING) for i in queue.items(record.session_id)):
        return False
    clear_active(data_dir, record.session_id)
    log.info("active-session record of %s removed: the exam is over, nothing pending",
             record.session_id)
    return True


def run_upload(args: argparse.Namespace, settings: Settings) -> int:
    """``zhishiyun upload``: recover what a crash left open, then resume every upload."""
    from zhishiyun.upload.command import run

    queue_path = paths.queue_db(settings.data_path)
    if queue_path.exists():
        try:
            lock = lock_exclusive(queue_lock_path(queue_path))
        except UploadsBusy:
            lock = None  # the running client recovers and uploads; the command says so
        if lock is not None:
            queue = UploadQueue(queue_path)
            try:
                recover_open_segments(queue)
            finally:
                queue.close()
                lock.close()
    code = run(args, settings)
    if queue_path.exists():
        queue = UploadQueue(queue_path)
        try:
            tidy_record(settings.data_path, queue)
            reason = stuck_reason(queue.items())
        finally:
            queue.close()
        if reason:
            print(describe(reason))
    return code
