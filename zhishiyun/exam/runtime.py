"""``ExamRuntime``: the upload queue, its worker and the server clock, built once per app.

The GUI (``ui/exam_entry.py``) and headless callers compose it once, then create
:class:`~zhishiyun.exam.session.ExamSession` objects from it. ``resume_uploads`` re-queues
whatever a crash left behind (every registered session directory) and starts the worker,
so pending uploads go on by themselves after the next start.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from zhishiyun import paths
from zhishiyun.clock import ServerClock
from zhishiyun.exam.record import ActiveSession, clear_active, load_active
from zhishiyun.exam.session import ExamSession
from zhishiyun.upload.queue import UploadQueue
from zhishiyun.upload.session import SessionUploads
from zhishiyun.upload.worker import UploadWorker

log = logging.getLogger(__name__)


class ExamRuntime:
    """Shared exam machinery for one server and one data directory.

    Args:
        client: the logged-in :class:`~zhishiyun.api.client.ServerClient`.
        data_dir: the client's data directory.
        clock: a ServerClock (a new one is synced on first use when omitted).
        worker_options: extra keyword arguments for :class:`UploadWorker` (tests).
    """

    def __init__(self, client: Any, data_dir: str | Path, clock: ServerClock | None = None,
                 **worker_options: Any) -> None:
        self.client = client
        self.data_dir = Path(data_dir)
        self.clock = clock or ServerClock()
        self.queue = UploadQueue(paths.queue_db(self.data_dir))  # shared with `zhishiyun upload`
        self.worker = UploadWorker(self.queue, lambda: self.client.token, **worker_options)
        self._started = False
        self._closed = False
        self.sessions: list[ExamSession] = []

    def start(self) -> None:
        """Sync the clock if needed (blocking), re-queue leftovers and start the worker."""
        if not self.clock.synced:
            try:
                self.clock.sync(self.client, samples=3, timeout=3.0)
            except Exception as exc:  # noqa: BLE001 - offline start: local time until synced
                log.warning("server clock not measured (%s); using this computer's", exc)
        if not self._started:
            self.resume_uploads()
            self.worker.start()
            self._started = True

    def resume_uploads(self) -> int:
        """Queue every segment a session directory holds but the queue does not."""
        added = 0
        for s in self.queue.sessions():
            if s["session_dir"] and Path(s["session_dir"]).is_dir():
                added += SessionUploads(self.queue, s["session_id"], s["upload_url"],
                                        s["api_url"], s["session_dir"]).enqueue_session_dir()
        self.worker.retry_now()
        return added

    def pending_uploads(self) -> int:
        """Items still to deliver (all sessions); 0 once closed."""
        return 0 if self._closed else self.queue.unfinished()

    def active_session(self) -> ActiveSession | None:
        """The exam a crash interrupted on this server, if any."""
        return load_active(self.data_dir, self.client.base_url)

    def forget_active(self) -> None:
        """The candidate chose not to return (or the server says it is over)."""
        clear_active(self.data_dir)

    def session(self, exam: Any, **options: Any) -> ExamSession:
        """A new :class:`ExamSession` for ``exam`` (not entered yet)."""
        session = ExamSession(self.client, self.clock, exam, data_dir=self.data_dir,
                              queue=self.queue, worker=self.worker, **options)
        self.sessions.append(session)
        return session

    def resume(self, record: ActiveSession, **options: Any) -> ExamSession:
        """A session for the exam of ``record``; call ``enter()`` to rejoin it."""
        exam = {"id": record.exam_id, "name": record.exam_name, "kind": record.kind}
        return self.session(exam, **options)

    def close(self) -> None:
        """Stop every session's ticker, the worker, and close the queue."""
        for session in self.sessions:
            session.close()
        self._closed = True
        self.worker.stop()
        self.queue.close()
