"""``ExamRuntime``: the upload queue, its worker and the one server clock, built once per app.

The composition roots (the GUI's ``build_services``, ``zhishiyun exam run``, the headless
demo) build it once with :meth:`ExamRuntime.from_settings`, then create
:class:`~zhishiyun.exam.session.ExamSession` objects from it. Everything that shows server
time, pending uploads or a session's progress reads this object, so there is one clock and
one queue connection per process. ``start`` takes the queue's lock, recovers the segments
a crash left open (:mod:`zhishiyun.exam.recover`), re-queues whatever a session directory
holds and starts the worker, so pending uploads go on by themselves after the next start,
before any login.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zhishiyun import paths
from zhishiyun.active_session import (
    ActiveSession,
    clear_active,
    load_active,
)
from zhishiyun.api.errors import ApiError
from zhishiyun.clock import ClockSample, ServerClock
from zhishiyun.exam.problems import describe, stuck_reason
from zhishiyun.exam.recover import recover_open_segments, tidy_record
from zhishiyun.exam.retention import DEFAULT_RETENTION_DAYS, LocalSession, holdings, sweep
from zhishiyun.exam.session import ExamSession, State
from zhishiyun.exam.session_state import BEFORE_END
from zhishiyun.upload.queue import DONE, FAILED, UploadQueue
from zhishiyun.upload.session import SessionUploads
from zhishiyun.upload.worker import UploadWorker

if TYPE_CHECKING:
    from zhishiyun.api.client import ServerClient
    from zhishiyun.auth.tokens import TokenStore
    from zhishiyun.config import Settings

log = logging.getLogger(__name__)
#: States in which a session is entered and not ended (recording, or about to after its
#: confirmation): it must not be dropped by a plain quit.
LIVE_STATES = BEFORE_END
CLOCK_SAMPLES, CLOCK_TIMEOUT_S = 3, 3.0


class ExamRuntime:
    """Shared exam machinery for one server and one data directory.

    Args:
        client: the :class:`~zhishiyun.api.client.ServerClient` (logged in before entering).
        data_dir: the client's data directory.
        clock: a ServerClock (a new one is synced on first use when omitted).
        worker_options: extra keyword arguments for :class:`UploadWorker` (tests).
    """

    def __init__(self, client: ServerClient, data_dir: str | Path,
                 clock: ServerClock | None = None, **worker_options: Any) -> None:
        self.client = client
        self.data_dir = Path(data_dir)
        self.clock = clock or ServerClock()
        self.queue = UploadQueue(paths.queue_db(self.data_dir))  # shared with `zhishiyun upload`
        worker_options.setdefault("transport", client.transport)  # the one road
        self.worker = UploadWorker(self.queue, lambda: self.client.token, **worker_options)
        self.worker.item_did_finish.append(self._item_finished)
        self._started = False
        self._closed = False
        self.sessions: list[ExamSession] = []
        #: ``local_retention_days`` of the server's ``/config`` (see :mod:`.retention`).
        self.retention_days: float = DEFAULT_RETENTION_DAYS

    @classmethod
    def from_settings(cls, settings: Settings, *, token_store: TokenStore | None = None,
                      **worker_options: Any) -> ExamRuntime:
        """The runtime of the effective settings (server, CA bundle, proxy, data directory)."""
        from zhishiyun.api.client import ServerClient

        client = ServerClient.from_settings(settings, token_store=token_store)
        return cls(client, settings.data_path, **worker_options)

    # --- the clock ------------------------------------------------------------------------

    def server_now(self) -> Any:
        """Current server time (this computer's until the clock was measured)."""
        return self.clock.now()

    def sync_clock(self) -> ClockSample:
        """Measure the server clock again (blocking; raises when the server is unreachable)."""
        return self.clock.sync(self.client, samples=CLOCK_SAMPLES, timeout=CLOCK_TIMEOUT_S)

    # --- start and uploads ----------------------------------------------------------------

    def start(self) -> None:
        """Sync the clock if needed (blocking); the first time also start the uploads.

        The first call takes the queue's lock, recovers and re-queues what a crash left,
        starts the worker and applies the local retention.

        Raises:
            UploadsBusy: another Zhishiyun process runs the uploads of this data directory.
        """
        if not self.clock.synced:
            try:
                self.sync_clock()
            except Exception as exc:  # noqa: BLE001 - offline start: local time until synced
                log.warning("server clock not measured (%s); using this computer's", exc)
        if not self._started:
            self.worker.start()  # the queue's lock first: no other process records here
            recover_open_segments(self.queue)
            self.resume_uploads()
            self.retention_days = self._retention_from_config()
            self._started = True
            self.sweep_local()
        self.tidy_active()

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

    def upload_problem(self, session_id: str | None = None) -> str | None:
        """A translated line when uploads (of one session) keep failing, else None."""
        if self._closed:
            return None
        reason = stuck_reason(self.queue.items(session_id))
        return describe(reason) if reason else None

    def upload_totals(self, session_id: str) -> dict[str, int]:
        """One session's queue totals (items/bytes done and total, failed); {} once closed."""
        return {} if self._closed else self.queue.session_totals(session_id)

    # --- sessions -------------------------------------------------------------------------

    def active_session(self) -> ActiveSession | None:
        """The exam a crash interrupted on this server while its time runs (blocking).

        When logged in, the server has the last word: a session it calls finished ends
        the record.
        """
        record = load_active(self.data_dir, self.client.base_url, now=self.clock.now())
        if record is None or not self.client.token:
            return record
        try:
            exam = self.client.exam(record.exam_id)
        except ApiError as exc:
            log.info("exam %s not checked (%s); the record stands", record.exam_id, exc.code)
            return record
        if exam.state == "finished" or (exam.session_id or record.session_id) \
                != record.session_id:
            log.info("session %s is over on the server: record removed", record.session_id)
            clear_active(self.data_dir, record.session_id)
            return None
        return record

    def _retention_from_config(self) -> float:
        """``local_retention_days`` of ``/config`` (a number ≥ 0), else the current value."""
        try:
            value = self.client.raw("GET", "/config", auth=False).json().get(
                "local_retention_days", self.retention_days)
        except (ApiError, ValueError, AttributeError) as exc:
            log.info("retention from /config not read (%s); %s day(s)", exc,
                     self.retention_days)
            return self.retention_days
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            log.warning("local_retention_days %r from /config ignored", value)
            return self.retention_days
        return float(value)

    def sweep_local(self) -> list[str]:
        """Delete local files of sessions the server has confirmed, after the retention."""
        return [] if self._closed else sweep(self.queue, self.data_dir, self.retention_days)

    def _item_finished(self, item: Any) -> None:
        """The last upload of an ended exam ends its record and starts its retention."""
        self.tidy_active()
        if self._started and not self._closed and all(
                i.state in (DONE, FAILED) for i in self.queue.items(item.session_id)):
            self.sweep_local()  # marked confirmed now; with 0 days deleted right away

    def local_holdings(self) -> list[LocalSession]:
        """What this computer holds, per session (for the support page); [] once closed."""
        return [] if self._closed else holdings(self.queue, self.data_dir, self.retention_days)

    def _on_session_done(self) -> None:
        if self._started and not self._closed:
            self.sweep_local()

    def tidy_active(self) -> bool:
        """Remove a record whose exam ended (plus grace) with nothing of it left to send."""
        return tidy_record(self.data_dir, self.queue, self.clock.now())

    def forget_active(self) -> None:
        """The candidate chose not to return (or the server says it is over)."""
        clear_active(self.data_dir)

    def session(self, exam: Any, **options: Any) -> ExamSession:
        """A new :class:`ExamSession` for ``exam`` (not entered yet)."""
        session = ExamSession(self.client, self.clock, exam, data_dir=self.data_dir,
                              queue=self.queue, worker=self.worker, **options)
        # done = finished and all confirmed; its last upload may have come before the
        # finish ended the active record, when the sweep still had to skip it
        session.session_did_change.append(
            lambda kind, value: self._on_session_done() if kind == "state"
            and value == State.DONE else None)
        self.sessions.append(session)
        return session

    def resume(self, record: ActiveSession, **options: Any) -> ExamSession:
        """A session for the exam of ``record``; call ``enter()`` to rejoin it."""
        exam = {"id": record.exam_id, "name": record.exam_name, "kind": record.kind}
        return self.session(exam, **options)

    def in_exam(self) -> bool:
        """True while one of this runtime's sessions is recording an exam."""
        return any(s.state in LIVE_STATES for s in self.sessions)

    def close(self) -> None:
        """Stop every session's ticker, the worker, and close the queue (idempotent)."""
        if self._closed:
            return
        for session in self.sessions:
            session.close()
        self._closed = True
        self.worker.stop()
        self.queue.close()
