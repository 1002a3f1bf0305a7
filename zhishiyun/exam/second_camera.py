"""Second camera (a phone filming from the side), headless: bind code, status, events.

:class:`SecondCameraMonitor` asks the server for a bind code (``POST
/sessions/{sid}/bindings``), polls the binding's status on its own thread (``GET
/sessions/{sid}/bindings/status``), calls ``second_camera_did_update`` with every
:class:`SecondCameraStatus` and records each change as a proctoring event
(``second_camera_bound``, ``_recording``, ``_lost``, ``_restored``, ``_background``) — through
the exam core's durable event queue when given (``ExamSession.record_event``), else straight
to ``POST /sessions/{sid}/events``.

The phone itself is a web page served by the exam server (``/phone/``); it needs nothing
from this computer except the code.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from zhishiyun.api.errors import ApiError

log = logging.getLogger(__name__)
STATES = ("not_bound", "bound", "recording", "lost")
RecordEvent = Callable[[str, dict[str, Any]], Any]


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class BindCode:
    """A fresh bind code: show ``code`` and a QR code of ``qr_payload``."""

    code: str
    url: str
    qr_payload: str
    expires_at: datetime


@dataclass(frozen=True)
class SecondCameraStatus:
    """What the desktop shows about its second camera.

    Attributes:
        state: ``not_bound``, ``bound``, ``recording`` or ``lost``.
        code_active: a bind code is waiting to be used.
        last_upload_age_s: seconds since the phone's last chunk arrived (server time).
        segments: phone chunks the server holds.
        hidden: the phone page is in the background.
        buffered: chunks waiting on the phone (it is offline or slow).
        error: ``""``, or why the status could not be read (this computer offline).
    """

    state: str = "not_bound"
    code_active: bool = False
    bound_at: datetime | None = None
    last_upload_at: datetime | None = None
    last_upload_seq: int | None = None
    last_upload_age_s: float | None = None
    segments: int = 0
    hidden: bool = False
    buffered: int = 0
    error: str = ""

    @classmethod
    def from_reply(cls, data: dict[str, Any]) -> SecondCameraStatus:
        """Parse ``GET /sessions/{sid}/bindings/status``."""
        state = str(data.get("state", "not_bound"))
        if state not in STATES:
            raise ApiError(0, "bad_reply", f"unknown second camera state {state!r}")
        try:  # a non-numeric count or a bad time is an unusable reply, not a crash
            last = _time(data.get("last_upload_at"))
            now = _time(data.get("server_time"))
            age = max(0.0, (now - last).total_seconds()) if last and now else None
            seq = data.get("last_upload_seq")
            return cls(state=state, code_active=bool(data.get("code_active")),
                       bound_at=_time(data.get("bound_at")), last_upload_at=last,
                       last_upload_seq=None if seq is None else int(seq),
                       last_upload_age_s=age, segments=int(data.get("segments") or 0),
                       hidden=bool(data.get("hidden")), buffered=int(data.get("buffered") or 0))
        except (TypeError, ValueError, OverflowError) as exc:
            raise ApiError(0, "bad_reply", f"bad second camera status: {exc}") from None


class SecondCameraMonitor:
    """Bind code and live status of one session's second camera.

    Args:
        client: the logged-in :class:`~zhishiyun.api.client.ServerClient`.
        session_id: the exam session; None before entering, with ``exam_id`` (the exam
            card binds the phone to the exam; no events are recorded then).
        record_event: ``record_event(kind, details)`` of the exam core (durable queue);
            without it, events are posted to the server directly (lost when offline).
        poll_seconds: how often the status is read.

    ``second_camera_did_update`` callbacks get every status read, on the poll thread.
    """

    def __init__(self, client: Any, session_id: str | None, *,
                 record_event: RecordEvent | None = None, poll_seconds: float = 2.0,
                 exam_id: int | None = None) -> None:
        self.client = client
        self.session_id = session_id
        self.exam_id = exam_id
        self.poll_seconds = poll_seconds
        self.record_event = record_event
        self.second_camera_did_update: list[Callable[[SecondCameraStatus], None]] = []
        self.status = SecondCameraStatus()
        self.events: list[str] = []  # kinds recorded, in order (for the UI and tests)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def create_code(self, ttl_s: int | None = None) -> BindCode:
        """A new single-use bind code (blocking: call off the UI thread)."""
        data = (self.client.create_binding(self.session_id, ttl_s) if self.session_id else
                self.client.create_exam_binding(self.exam_id, ttl_s))
        try:
            return BindCode(code=str(data["code"]), url=str(data["url"]),
                            qr_payload=str(data["qr_payload"]),
                            expires_at=_time(data["expires_at"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ApiError(0, "bad_reply", f"bad bind code reply: {exc}") from None

    def poll_once(self) -> SecondCameraStatus:
        """Read the status now, record changes as events and tell the listeners."""
        try:
            data = (self.client.binding_status(self.session_id, timeout=5)
                    if self.session_id else
                    self.client.exam_binding_status(self.exam_id, timeout=5))
            status = SecondCameraStatus.from_reply(data)
        except (ApiError, ValueError) as exc:
            code = getattr(exc, "code", "bad_reply")
            log.info("second camera status not read: %s", code)
            status = SecondCameraStatus(**{**self.status.__dict__, "error": code})
        with self._lock:
            previous, self.status = self.status, status
        if not status.error and self.session_id:  # before entering there is no session
            self._record_changes(previous, status)
        for callback in list(self.second_camera_did_update):
            try:
                callback(status)
            except Exception:  # noqa: BLE001 - a listener's bug must not stop the poller
                log.exception("second camera listener failed")
        return status

    def start(self) -> None:
        """Poll on a daemon thread until :meth:`stop`."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="second-camera", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop polling (waits for a call in flight up to ``timeout``)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll_once()
            self._stop.wait(self.poll_seconds)

    def _record_changes(self, old: SecondCameraStatus, new: SecondCameraStatus) -> None:
        kinds = []
        if new.state != old.state:
            if new.state == "lost":
                kinds.append("second_camera_lost")
            elif old.state == "lost":
                kinds.append("second_camera_restored")
            elif old.state == "not_bound" and new.state in ("bound", "recording"):
                kinds.append("second_camera_bound")
            if new.state == "recording":
                kinds.append("second_camera_recording")
        if new.hidden and not old.hidden:
            kinds.append("second_camera_background")
        for kind in kinds:
            self._event(kind, {"state": new.state, "segments": new.segments,
                               "buffered": new.buffered})

    def _event(self, kind: str, details: dict[str, Any]) -> None:
        self.events.append(kind)
        log.info("second camera event %s", kind)
        try:
            if self.record_event is not None:
                self.record_event(kind, details)
            else:
                self.client.post_events(self.session_id, [{
                    "id": uuid.uuid4().hex, "kind": kind,
                    "at": datetime.now(timezone.utc), "details": details}])
        except Exception as exc:  # noqa: BLE001 - an event must never stop the poller
            log.warning("second camera event %s not recorded: %s", kind, exc)
