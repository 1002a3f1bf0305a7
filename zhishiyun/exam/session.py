"""``ExamSession``: one candidate's exam from entry to the last upload, without any GUI.

States: :class:`~zhishiyun.exam.session_state.State` (``entered ─► confirm`` for written
exams, ``device_confirm`` for interviews, ``─► waiting ─► in_progress ─► finishing ─►
done``).

Entering creates the session on the server (``ServerClient.enter``) and writes the
active-session record. Entered from the exam window, a written exam then waits for its
考前确认 (:meth:`confirm_and_record`) before anything is recorded; otherwise (interviews,
``zhishiyun exam run``, a resume after the confirmation) the recorder starts at once.
Each closed segment goes to the upload queue
(:class:`~zhishiyun.upload.session.SessionUploads`). Answers and proctoring events go to
the session's :class:`~zhishiyun.exam.local.LocalStore` first, then to the same persistent
queue, so a lost network or a crash never loses them. Time comes from the
:class:`~zhishiyun.clock.ServerClock` (monotonic), so the countdown goes on offline.
The devices the candidate confirms or switches to are saved for this computer
(:mod:`zhishiyun.device_choice`).

A ticker thread (``exam-ticker``) moves the states on time (start, time up), batches events
into the queue, watches the network and notices when every upload of the session is done.

Callbacks: ``session_did_change(kind, value)`` — kinds ``state`` (a :class:`State`),
``event`` (the event dict just recorded), ``network`` (bool online), ``recorder``
(:class:`~zhishiyun.capture.recorder.RecorderEvent`), ``presence`` (a quiet hint text, or
None when it no longer applies), ``error`` (a ZhishiyunError to show in a status area).

They fire on whichever thread noticed the change (the ticker, a recorder thread, the
presence thread, or the caller's thread); a UI marshals them to its own thread.

While recording, a :class:`~zhishiyun.auth.presence.PresenceSampler` looks at the newest
camera picture about once a second: no face for a while, or more than one face, becomes a
proctoring event (a flag for review, never an automatic fail).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from zhishiyun.active_session import ActiveSession, save_active
from zhishiyun.api.errors import ApiError
from zhishiyun.auth.presence import PresenceSampler, PresenceSettings
from zhishiyun.capture.manifest import MANIFEST_NAME
from zhishiyun.capture.recorder import Recorder
from zhishiyun.config import RecordingSettings, merge_from_server
from zhishiyun.exam import session_keys
from zhishiyun.exam.answer_chain import AnswerChain
from zhishiyun.exam.guard import SessionGuard
from zhishiyun.exam.local import STORE_NAME, LocalStore
from zhishiyun.exam.retention import write_exam_info
from zhishiyun.exam.session_end import SessionEndMixin
from zhishiyun.exam.session_recording import SessionRecordingMixin
from zhishiyun.exam.session_state import WRITTEN_CONFIRMED, ExamError, State, outage_end
from zhishiyun.exam.session_ticker import SessionTickerMixin
from zhishiyun.i18n import _
from zhishiyun.upload.queue import UploadQueue
from zhishiyun.upload.session import SessionUploads

log = logging.getLogger(__name__)

__all__ = ["ExamError", "ExamSession", "State", "outage_end"]


class ExamSession(SessionRecordingMixin, SessionEndMixin, SessionTickerMixin):
    """One exam session of the logged-in candidate.

    Args:
        client: the :class:`~zhishiyun.api.client.ServerClient` (logged in).
        clock: a synced :class:`~zhishiyun.clock.ServerClock`.
        exam: the exam (``GET /exams`` entry, or anything with ``id``, ``name``, ``kind``).
        data_dir: the client's data directory (sessions go to ``sessions/<sid>/``).
        queue: the persistent upload queue.
        worker: the upload worker (optional: without it, items wait in the queue).
        camera: camera index or video file for the recorder (``None``: no camera).
        microphone: microphone name, ``None`` for the default, ``"none"`` for no audio.
        screen: the monitor to record (``True``: primary; ``False``: no screen track).
        recorder_factory: builds the recorder (tests may pass a smaller one).
        tick_seconds: how often the ticker runs.
        ping_seconds: how often the network is probed.
    """

    def __init__(self, client: Any, clock: Any, exam: Any, *, data_dir: str | Path,
                 queue: UploadQueue, worker: Any = None, camera: int | str | None = 0,
                 microphone: str | None = None, screen: bool | int = True,
                 recorder_factory: Callable[..., Recorder] = Recorder,
                 tick_seconds: float = 0.5, ping_seconds: float = 2.0,
                 presence: PresenceSettings | None = PresenceSettings(),
                 guard_options: dict[str, Any] | None = None) -> None:
        self.client, self.clock = client, clock
        self.exam_id = int(_get(exam, "id"))
        self.exam_name = str(_get(exam, "name", ""))
        self.kind = str(_get(exam, "kind", "written"))
        self.data_dir = Path(data_dir)
        self.queue, self.worker = queue, worker
        self.camera, self.microphone, self.screen = camera, microphone, screen
        self.recorder_factory = recorder_factory
        self.tick_seconds, self.ping_seconds = tick_seconds, ping_seconds
        self.session_did_change: list[Callable[[str, Any], None]] = []
        self.state = State.NEW
        self.online = True
        self._outage_in_exam = False
        self.resumed = False
        self.session_id = ""
        self.session_dir = Path()
        self.starts_at: datetime | None = None
        self.ends_at: datetime | None = None
        self.settings = RecordingSettings()
        self.recorder: Recorder | None = None
        self.presence: PresenceSampler | None = None
        self.presence_settings = presence  # None: no face-presence sampling
        self.guard = SessionGuard(self, **(guard_options or {}))  # integrity (exam.guard)
        self.store: LocalStore | None = None
        self.uploads: SessionUploads | None = None
        self.answer_chain: AnswerChain | None = None
        self.finish_reason = ""
        self.finish_posted = False
        self._key = ""
        self._lock = threading.RLock()
        self._finish_lock = threading.Lock()
        self._stop = threading.Event()
        self._closed_out = threading.Event()  # finish() has queued everything
        self._ticker: threading.Thread | None = None
        self._next_ping = 0.0

    # --- entering -----------------------------------------------------------------------

    def enter(self, *, confirm_first: bool = False) -> None:
        """Create (or rejoin) the session on the server and start recording. Blocking.

        With ``confirm_first`` (the exam window) a written exam stops at ``confirm``
        (考前确认) with nothing recorded until :meth:`confirm_and_record`; a session whose
        confirmation is already in its store (a resume) records at once.

        Raises:
            ApiError: the server refused (entry closed, already finished …) or is unreachable.
            RecordingError / DeviceError: recording could not start (the session exists on
                the server; calling ``enter`` again retries).
        """
        reply = self.client.enter(self.exam_id, self.guard.entry_report())
        if not self.exam_name:  # resumed from a record without the name
            try:
                self.exam_name = self.client.exam(self.exam_id).name
            except ApiError as exc:
                log.info("exam name not fetched: %s", exc.code)
        with self._lock:
            self.session_id = reply.session_id
            self._key = reply.session_key
            session_keys.remember(self.session_id, self._key)  # recovery before login
            self.starts_at, self.ends_at = reply.starts_at, reply.ends_at
            self.settings = merge_from_server(RecordingSettings(), reply.recording)
            self.session_dir = self.data_dir / "sessions" / self.session_id
            self.session_dir.mkdir(parents=True, exist_ok=True)
            self.resumed = (self.session_dir / STORE_NAME).exists()
            if self.store is None:
                self.store = LocalStore(self.session_dir / STORE_NAME)
            if self.answer_chain is None:
                self.answer_chain = AnswerChain(self.session_dir, self._key)
            write_exam_info(self.session_dir, self.exam_id, self.exam_name, self.kind)
            self.uploads = SessionUploads(self.queue, self.session_id, reply.upload_url,
                                          self.client.api_url, self.session_dir)
            queued = self.uploads.enqueue_session_dir()
            if queued:
                log.info("session %s: %d earlier segment(s) queued again", self.session_id,
                         queued)
            save_active(self.data_dir, ActiveSession(
                server_url=self.client.base_url, exam_id=self.exam_id,
                exam_name=self.exam_name, kind=self.kind, session_id=self.session_id,
                session_dir=str(self.session_dir),
                ends_at=self.ends_at.isoformat() if self.ends_at else ""))
        if self.worker is not None:
            self.worker.set_current_session(self.session_id)
            self.worker.retry_now()
        self._merge_server_answers()
        entered = "session_resumed" if self.resumed else "session_entered"
        if confirm_first and self.needs_confirmation():  # nothing is recorded before it
            self.record_event(entered, {"recording": False})
            self._set_state(State.ENTERED)
            self._set_state(State.CONFIRM)
            self._start_ticker()  # the end time still ends an unconfirmed exam
            return
        self.start_recording()
        self.record_event(entered, {"first_seq": self.recorder.first_seq if self.recorder
                                    else 0})
        self.guard.start()
        self._set_state(State.ENTERED)
        if self.kind == "interview" and not self.resumed:
            self._set_state(State.DEVICE_CONFIRM)
        else:
            self._set_state(self._time_state())
        self._start_ticker()

    def needs_confirmation(self) -> bool:
        """A written exam with neither its 考前确认 done nor anything recorded yet.

        A resume after a crash mid-exam records on at once, whoever entered it before.
        """
        if self.kind != "written" or (self.session_dir / MANIFEST_NAME).exists():
            return False
        return not any(e.get("kind") == WRITTEN_CONFIRMED for e in self._need_store().events())

    def confirm_and_record(self, camera: int | str | None, microphone: str | None) -> None:
        """Written exams: the candidate confirmed 考前确认 with these devices; record. Blocking.

        The devices become this computer's choice, the recorder starts with them and the
        session moves on to the waiting room (or the papers when the start has passed).

        Raises:
            RecordingError / DeviceError: recording could not start (the confirmation
                stays; calling this again retries).
        """
        with self._lock:
            if self.state != State.CONFIRM:
                return
            changed = (camera, microphone) != (self.camera, self.microphone)
            self.camera, self.microphone = camera, microphone
        if changed:
            self._save_choice()
        self.start_recording()
        self.record_event(WRITTEN_CONFIRMED, {
            "first_seq": self.recorder.first_seq if self.recorder else 0,
            "camera": str(camera), "microphone": str(microphone)})
        self.guard.start()
        self._set_state(self._time_state())

    def _merge_server_answers(self) -> None:
        """After a resume: never send a version the server already has a newer one of."""
        try:
            stored = self.client.answers(self.session_id)
        except ApiError as exc:
            log.info("server answers not read (%s); local versions kept", exc.code)
            return
        for answer in stored:
            self.store.adopt_answer(answer.question_id, answer.version, answer.content)

    def confirm_devices(self) -> None:
        """Interviews: the candidate confirmed camera and microphone; on to the waiting room."""
        self.record_event("devices_confirmed", {})
        if self.state in (State.DEVICE_CONFIRM, State.ENTERED):
            self._set_state(self._time_state())

    # --- during the exam ----------------------------------------------------------------

    def seconds_to_start(self) -> float:
        """Server-time seconds until the papers open (≤ 0 once started)."""
        return self.clock.seconds_until(self.starts_at) if self.starts_at else 0.0

    def seconds_left(self) -> float:
        """Server-time seconds until the end (≥ 0)."""
        return max(0.0, self.clock.seconds_until(self.ends_at)) if self.ends_at else 0.0

    def papers(self) -> list[Any]:
        """The papers (``GET /sessions/{sid}/papers``). Blocking.

        Raises:
            ApiError: ``not_started`` before the start time, or a network error.
        """
        return list(self.client.papers(self.session_id).papers)

    def paper_content(self, paper: Any) -> bytes:
        """The bytes of a paper (text papers: their UTF-8 text). Blocking."""
        return self.client.paper_content(paper)

    def save_answer(self, question_id: str, content: str) -> int | None:
        """Save an answer locally at once and queue it for the server; returns its version.

        Safe on any thread; never blocks on the network. Each version carries the server
        time it was saved at, so the server takes it however late it arrives when it was
        saved before the end.
        """
        store = self._need_store()
        saved = store.save_answer(str(question_id), content, self.clock.timestamp())
        if saved is None:
            return None
        saved_at = datetime.fromtimestamp(saved.saved_at, tz=timezone.utc).isoformat()
        body = {"version": saved.version, "content": content, "saved_at": saved_at}
        if self.answer_chain is not None:  # the version's signed line travels with it
            body["chain"] = self.answer_chain.append(saved.question_id, saved.version,
                                                     saved_at, content)
        self.uploads.put_answer(saved.question_id, saved.version, body)
        return saved.version

    def answers(self) -> dict[str, str]:
        """The locally saved answers (question id → text)."""
        return {q: a.content for q, a in self._need_store().answers().items()}

    def record_event(self, kind: str, details: dict[str, Any] | None = None) -> dict:
        """Record a proctoring event (focus lost, display added …); queued within a tick."""
        event = self._need_store().add_event(kind, self.clock.now().isoformat(), details)
        log.info("session event %s %s", kind, details or "")
        self._emit("event", event)
        return event

    def upload_totals(self) -> dict[str, int]:
        """The session's queue totals (items/bytes done and total, failed)."""
        return self.queue.session_totals(self.session_id) if self.session_id else {}

    def segment_items(self) -> list[Any]:
        """The session's queued segments (state, bytes done) for a progress list."""
        return [i for i in self.queue.items(self.session_id) if i.kind == "segment"]

    def retry_uploads(self) -> int:
        """Put the session's failed uploads back in line and wake the worker; how many."""
        count = self.queue.requeue_failed(self.session_id)
        if self.worker is not None:
            self.worker.retry_now()
        return count

    # --- helpers ------------------------------------------------------------------------

    def _time_state(self) -> State:
        if self.finish_reason:
            return self.state
        return State.IN_PROGRESS if self.seconds_to_start() <= 0 else State.WAITING

    def _set_state(self, state: State) -> None:
        with self._lock:
            if state == self.state:
                return
            log.info("session %s: %s → %s", self.session_id, self.state.value, state.value)
            self.state = state
        self._emit("state", state)

    def _emit(self, kind: str, value: Any) -> None:
        for callback in list(self.session_did_change):
            try:
                callback(kind, value)
            except Exception:  # noqa: BLE001 - a listener's bug must not stop the exam
                log.exception("session listener failed")

    def _need_store(self) -> LocalStore:
        if self.store is None:
            raise ExamError(_("The exam has not been entered yet."))
        return self.store


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)
