"""During the exam: is the candidate (alone) in front of the camera? About once a second.

:class:`PresenceSampler` is fed the camera frames that are being recorded
(:meth:`~PresenceSampler.offer`, called on the capture or encoder thread: it only keeps a
reference to the newest frame and returns at once). Its own thread (``face-presence``)
looks at the newest frame every ``interval_s`` with the Haar cascade of
:mod:`zhishiyun.auth.face_guide` and reports:

* ``face_absent`` once no face was seen for ``absent_after_s`` (details: ``since_s``), and
  ``face_returned`` when a face is back (details: ``absent_s``);
* ``multiple_faces`` once more than one face was seen in ``multiple_after`` samples in a
  row, and ``multiple_faces_ended`` when it is one face (or none) again.

Events go to ``on_event(event)`` and a quiet hint to ``on_hint(text or None)``, both on the
sampler's thread. Events flag the session for review; they never fail the exam.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zhishiyun.auth.face_guide import FaceGuide
from zhishiyun.i18n import N_, _

log = logging.getLogger(__name__)

ABSENT_HINT = N_("We cannot see your face. Please stay in front of the camera.")
MULTIPLE_HINT = N_("More than one person is in view. Only you may be in front of the camera.")


@dataclass(frozen=True)
class PresenceSettings:
    """How presence is sampled (server ``/config`` → ``presence`` may override fields)."""

    interval_s: float = 1.0
    absent_after_s: float = 10.0
    multiple_after: int = 2


@dataclass(frozen=True)
class PresenceEvent:
    """A proctoring event for ``POST /sessions/{sid}/events``."""

    kind: str
    at: float  # time.time() when it was decided
    details: dict[str, Any] = field(default_factory=dict)
    client_event_id: str = field(default_factory=lambda: uuid.uuid4().hex)


class PresenceSampler:
    """Samples the newest recorded frame about once a second on its own thread."""

    def __init__(self, settings: PresenceSettings | None = None, *,
                 on_event: Callable[[PresenceEvent], None] = lambda e: None,
                 on_hint: Callable[[str | None], None] = lambda t: None,
                 clock: Callable[[], float] = time.monotonic,
                 frame_source: Callable[[], np.ndarray | None] | None = None) -> None:
        self.settings = settings or PresenceSettings()
        #: Pulled once per interval when nothing was offered (e.g. the recorder's newest
        #: camera picture), so the capture threads need not know about presence.
        self.frame_source = frame_source
        self.on_event, self.on_hint, self.clock = on_event, on_hint, clock
        self._latest: np.ndarray | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._guide: FaceGuide | None = None
        self._last_face = clock()
        self._absent = False
        self._multiple_run = 0
        self._multiple = False
        self.samples = 0
        self.busy_s = 0.0

    def offer(self, frame: np.ndarray) -> None:
        """Hand over a frame (any thread; cheap: keeps a reference, never copies or waits).

        The caller must not write into ``frame`` afterwards (capture makes a new array per
        frame, so this holds for recorded frames).
        """
        with self._lock:
            self._latest = frame

    def start(self) -> None:
        """Start sampling on the ``face-presence`` thread."""
        self._guide = FaceGuide()
        self._last_face = self.clock()
        self._thread = threading.Thread(target=self._run, name="face-presence", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the thread (at most one sample late)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def cost(self) -> dict[str, float]:
        """Samples taken, mean ms per sample, and the share of one core used."""
        mean = self.busy_s / self.samples * 1000 if self.samples else 0.0
        return {"samples": self.samples, "ms_per_sample": round(mean, 2),
                "core_share": round(mean / 1000 / self.settings.interval_s, 4)}

    def _run(self) -> None:
        while not self._stop.wait(self.settings.interval_s):
            with self._lock:
                frame, self._latest = self._latest, None
            if frame is None and self.frame_source is not None:
                frame = self.frame_source()
            if frame is None:
                continue
            try:
                self.sample(frame)
            except Exception:  # noqa: BLE001 - presence must never stop the exam
                log.exception("presence sample failed")

    def sample(self, frame: np.ndarray) -> int:
        """Look at one frame now and update the state; returns the number of faces."""
        if self._guide is None:
            self._guide = FaceGuide()
        started = time.perf_counter()
        count = len(self._guide.faces(frame))
        self.busy_s += time.perf_counter() - started
        self.samples += 1
        now = self.clock()
        if count >= 1:
            if self._absent:
                self._absent = False
                self._emit("face_returned", absent_s=round(now - self._last_face, 1))
            self._last_face = now
        elif not self._absent and now - self._last_face >= self.settings.absent_after_s:
            self._absent = True
            self._emit("face_absent", since_s=round(now - self._last_face, 1))
        self._multiple_run = self._multiple_run + 1 if count > 1 else 0
        if not self._multiple and self._multiple_run >= self.settings.multiple_after:
            self._multiple = True
            self._emit("multiple_faces", faces=count)
        elif self._multiple and count <= 1:
            self._multiple = False
            self._emit("multiple_faces_ended")
        self.on_hint(_(MULTIPLE_HINT) if self._multiple else _(ABSENT_HINT) if self._absent
                     else None)
        return count

    def _emit(self, kind: str, **details: Any) -> None:
        log.info("presence: %s %s", kind, details)
        self.on_event(PresenceEvent(kind=kind, at=time.time(), details=details))
