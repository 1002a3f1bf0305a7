"""FaceLoginSession: camera + guidance + the server's challenge, off the UI thread.

The GUI (or a script) creates one session per attempt and gives it plain callbacks. Every
callback is called on the session's worker thread (named ``face-login``), never on the
caller's thread: a Qt front end turns them into signals in ``zhishiyun/ui/``.

==============  ================================================  ========================
callback        arguments                                         when
==============  ================================================  ========================
on_frame        ``frame`` (BGR ndarray 480×640×3, unmirrored),    every camera frame
                ``box`` ((x, y, w, h) of the face or None)        (≈ camera fps)
on_hint         ``text`` (translated), ``code`` (hint or step)    when the hint changes
on_progress     ``fraction`` (0..1), ``text`` (what happens now)  on each phase/step/second
on_result       :class:`FaceLoginResult`                          once, at the very end
==============  ================================================  ========================

Phases: check the ID number (before any camera work; :meth:`start` raises
:class:`~zhishiyun.auth.face_identity.IdNumberError` at once) → open the camera → wait
until one face is well placed → ask the server for a challenge → step 0 (look straight)
and one step per action, ``step_seconds`` each, sampling JPEG frames → send them → result.
:meth:`cancel` stops within one frame and tells the server (which starts its one-minute
cooldown).
"""

from __future__ import annotations

import logging
import queue
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from zhishiyun.api.models import LoginResult
from zhishiyun.auth.face_client import Challenge, FaceClient, FaceLoginError, Frame
from zhishiyun.auth.face_guide import FaceGuide, Guidance
from zhishiyun.auth.face_identity import validate_id_number
from zhishiyun.errors import ZhishiyunError
from zhishiyun.i18n import N_, _

log = logging.getLogger(__name__)

STEP_PROMPTS = {
    "look": N_("Look straight at the camera."),
    "blink": N_("Please blink."),
    "turn_left": N_("Please turn your head to the left."),
    "turn_right": N_("Please turn your head to the right."),
    "open_mouth": N_("Please open your mouth."),
}
#: Seconds of (mostly: READY_SHARE) good frames before the challenge starts; longest wait.
READY_SECONDS, READY_SHARE, READY_TIMEOUT = 1.0, 0.8, 30.0
FIRST_FRAME_TIMEOUT = 10.0
JPEG_QUALITY = 85


@dataclass
class FaceLoginResult:
    """The end of a session: ``login`` on success, else ``error`` (and what to offer)."""

    ok: bool
    login: LoginResult | None = None
    error: ZhishiyunError | None = None
    cancelled: bool = False
    attempts_left: int | None = None
    #: ``password`` or ``manual_review`` once face login is exhausted (else None).
    fallback: str | None = None
    cooldown_s: int = 0
    #: Client detection ms per frame (mean, p95), frames sent, upload+verify ms.
    timings: dict[str, Any] = field(default_factory=dict)


def _noop(*_args) -> None:
    return None


class FaceLoginSession:
    """One face-login attempt driven on its own thread (see the module doc for callbacks).

    Args:
        client: the server's face calls.
        name, id_number: what the candidate typed (the ID number is checked at start).
        camera: a camera index, a video file path (``--camera FILE``), or a ready source
            object with ``start()``, ``stop()`` and a ``queue`` of ``(t, frame)`` items.
        allowed_id_types: other ID types the server allows (see ``face_identity``).
    """

    def __init__(self, client: FaceClient, name: str, id_number: str, camera: Any = 0, *,
                 allowed_id_types: tuple[str, ...] = (),
                 on_frame: Callable[[np.ndarray, tuple | None], None] = _noop,
                 on_hint: Callable[[str, str], None] = _noop,
                 on_progress: Callable[[float, str], None] = _noop,
                 on_result: Callable[[FaceLoginResult], None] = _noop) -> None:
        self.client, self.name, self.raw_id_number = client, name.strip(), id_number
        self.camera = camera
        self.allowed_id_types = allowed_id_types
        self.on_frame, self.on_hint = on_frame, on_hint
        self.on_progress, self.on_result = on_progress, on_result
        self.id_number = ""
        self.result: FaceLoginResult | None = None
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_hint = ""
        self._detect_ms: list[float] = []
        self._challenge: Challenge | None = None

    # --- control (any thread) ------------------------------------------------------------

    def start(self) -> None:
        """Check name and ID number now (raises), then run the attempt on a worker thread."""
        if not self.name:
            from zhishiyun.auth.face_identity import IdNumberError

            raise IdNumberError(_("Enter your name."))
        self.id_number = validate_id_number(self.raw_id_number, self.allowed_id_types)
        self._thread = threading.Thread(target=self._run, name="face-login", daemon=True)
        self._thread.start()

    def cancel(self) -> None:
        """Stop the attempt (the result says ``cancelled``; the server starts its cooldown)."""
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> FaceLoginResult | None:
        """Block until the result is known (for scripts and tests; not for the UI thread)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.result

    # --- worker ----------------------------------------------------------------------------

    def _hint(self, code: str, text: str) -> None:
        if code != self._last_hint:
            self._last_hint = code
            self.on_hint(text, code)

    def _open_camera(self):
        if hasattr(self.camera, "queue") and hasattr(self.camera, "start"):
            return self.camera
        from zhishiyun.capture.camera_open import parse_camera_spec
        from zhishiyun.capture.sources import CameraSource

        return CameraSource(parse_camera_spec(self.camera), 640, 480, fps=15.0)

    def _next_frame(self, source, timeout: float = 1.0) -> np.ndarray | None:
        try:
            _t, frame = source.queue.get(timeout=timeout)
        except queue.Empty:
            return None
        return frame

    def _look(self, guide: FaceGuide, frame: np.ndarray) -> Guidance:
        started = time.perf_counter()
        guidance = guide.assess(frame)
        self._detect_ms.append((time.perf_counter() - started) * 1000)
        self.on_frame(frame, guidance.box)
        return guidance

    def _run(self) -> None:
        source = None
        try:
            self.on_progress(0.0, _("Starting the camera…"))
            guide = FaceGuide()
            source = self._open_camera()
            source.start()
            result = self._attempt(source, guide)
        except FaceLoginError as exc:
            result = FaceLoginResult(ok=False, error=exc, attempts_left=exc.attempts_left,
                                     fallback=exc.fallback,
                                     cooldown_s=int(exc.retry_after or 0))
        except ZhishiyunError as exc:
            result = FaceLoginResult(ok=False, error=exc)
        except Exception as exc:  # noqa: BLE001 - the UI must always get a result
            log.exception("face login crashed")
            result = FaceLoginResult(ok=False, error=ZhishiyunError(
                _("Face login failed unexpectedly: {error}").format(error=exc)))
        finally:
            if source is not None:
                source.stop()
        if self._detect_ms:
            ordered = sorted(self._detect_ms)
            result.timings.update(
                detect_ms_mean=round(statistics.fmean(ordered), 2),
                detect_ms_p95=round(ordered[int(0.95 * (len(ordered) - 1))], 2),
                frames_seen=len(ordered))
        self.result = result
        self.on_result(result)

    def _cancelled(self) -> FaceLoginResult:
        cooldown = 0
        if self._challenge is not None:
            try:
                cooldown = self.client.cancel(self._challenge.challenge_id, self.id_number)
            except ZhishiyunError as exc:
                log.warning("could not report the cancel: %s", exc.one_line())
        return FaceLoginResult(ok=False, cancelled=True, cooldown_s=cooldown,
                               error=ZhishiyunError(_("Face verification cancelled."),
                                                    code="cancelled"))

    def _attempt(self, source, guide: FaceGuide) -> FaceLoginResult:
        # 1. one well-placed face for READY_SECONDS
        started = time.monotonic()
        good_since: float | None = None
        first = self._next_frame(source, FIRST_FRAME_TIMEOUT)
        if first is None:
            raise ZhishiyunError(_("The camera sends no picture."),
                                 hint=_("Check the camera, or choose another one."),
                                 code="camera_no_frames")
        frame: np.ndarray | None = first
        recent: list[tuple[float, bool]] = []
        while True:
            if self._cancel.is_set():
                return self._cancelled()
            if frame is not None:
                guidance = self._look(guide, frame)
                self._hint(guidance.hint, guidance.message())
                now = time.monotonic()
                # Ready when most frames of the last READY_SECONDS were good (one missed
                # detection must not restart the wait) and the newest one is.
                recent = [(t, ok) for t, ok in recent if now - t <= READY_SECONDS]
                recent.append((now, guidance.ok))
                good_since = good_since or now
                share = sum(ok for _t, ok in recent) / len(recent)
                if share < READY_SHARE:
                    good_since = None
                elif now - good_since >= READY_SECONDS and guidance.ok:
                    break
                if now - started > READY_TIMEOUT:
                    raise ZhishiyunError(guidance.message(), code=f"guidance_{guidance.hint}",
                                         hint=_("Then start the face verification again."))
            batch = self._drain(source)  # skip to the newest frame: the preview stays live
            frame = batch[-1][1] if batch else None
        # 2. the challenge
        self.on_progress(0.05, _("Preparing the verification…"))
        challenge = self.client.challenge(self.name, self.id_number)
        self._challenge = challenge
        frames = self._capture(source, guide, challenge)
        if frames is None:
            return self._cancelled()
        # 3. the verdict
        self.on_progress(0.9, _("Verifying…"))
        self._hint("verifying", _("Verifying, please wait…"))
        sent = time.perf_counter()
        login = self.client.verify(challenge, self.name, self.id_number, frames)
        self.on_progress(1.0, _("Verified."))
        return FaceLoginResult(ok=True, login=login, attempts_left=challenge.attempts_left,
                               timings={"frames_sent": len(frames), "verify_ms": round(
                                   (time.perf_counter() - sent) * 1000)})

    def _capture(self, source, guide: FaceGuide, challenge: Challenge) -> list[Frame] | None:
        """Sample frames by their capture time; guide on the newest one only.

        Frames are labelled with the step shown when the camera took them (not when this
        thread got to them), so a busy computer delays the preview, not the evidence.
        """
        steps = ["look", *challenge.actions]
        total = len(steps) * challenge.step_seconds
        budget = max(challenge.min_frames, challenge.max_frames - 2)
        interval = max(total / budget, 1 / 8)
        frames: list[Frame] = []
        began = time.monotonic()
        next_sample = began
        while time.monotonic() - began < total and len(frames) < challenge.max_frames:
            if self._cancel.is_set():
                return None
            batch = self._drain(source)
            if not batch:
                continue
            for taken, frame in batch:
                if taken < began or taken - began >= total or taken < next_sample:
                    continue
                if len(frames) >= challenge.max_frames:
                    break
                next_sample = max(next_sample + interval, taken)
                step = min(int((taken - began) // challenge.step_seconds), len(steps) - 1)
                frames.append(Frame(jpeg=encode_jpeg(frame, challenge.max_frame_bytes),
                                    t_ms=int((taken - began) * 1000), step=step))
            elapsed = time.monotonic() - began
            step = min(int(elapsed // challenge.step_seconds), len(steps) - 1)
            guidance = self._look(guide, batch[-1][1])
            if guidance.hint in ("no_face", "several_faces", "too_dark"):
                self._hint(guidance.hint, guidance.message())
            else:
                self._hint(steps[step], _(STEP_PROMPTS[steps[step]]))
            self.on_progress(min(0.9, 0.1 + 0.8 * elapsed / total),
                             _(STEP_PROMPTS[steps[step]]))
        if len(frames) < challenge.min_frames:
            raise ZhishiyunError(_("The camera sent too few pictures. Close other programs "
                                   "that use it and try again."), code="camera_too_slow")
        return frames

    def _drain(self, source, timeout: float = 1.0) -> list[tuple[float, np.ndarray]]:
        """Every queued ``(capture time, frame)``, waiting up to ``timeout`` for the first."""
        try:
            batch = [source.queue.get(timeout=timeout)]
        except queue.Empty:
            return []
        while True:
            try:
                batch.append(source.queue.get_nowait())
            except queue.Empty:
                return batch


def encode_jpeg(frame: np.ndarray, max_bytes: int) -> bytes:
    """JPEG of ``frame`` no larger than ``max_bytes`` (quality lowered step by step)."""
    for quality in (JPEG_QUALITY, 75, 60, 45, 30):
        ok, buffer = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok and len(buffer) <= max_bytes:
            return buffer.tobytes()
    small = cv2.resize(frame, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    return cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 60])[1].tobytes()
