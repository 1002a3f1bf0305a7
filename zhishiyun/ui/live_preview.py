"""Live camera picture and microphone level for the device pages (设备启动).

Uses the capture package's own sources (the same code path as recording) on a worker
thread; frames and levels reach the UI through the callbacks given (wrap with on_main).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

log = logging.getLogger(__name__)
FRAME_INTERVAL_S = 1 / 12
LEVEL_HOLD_S = 2.5


class LivePreview:
    """Shows what the camera sees and how loud the microphone is, until :meth:`stop`.

    Args:
        camera: camera index, video-file path, or None for no camera.
        microphone: device name, None for the default, or ``"none"``.
        on_frame: RGB frames (≈ 12 per second), on the preview's thread.
        on_level: peak level 0..1 of the latest audio, on the preview's thread.
        on_problem: a translated message when a device cannot be opened.
    """

    def __init__(self, camera: Any, microphone: str | None,
                 on_frame: Callable[[Any], None], on_level: Callable[[float], None],
                 on_problem: Callable[[str], None]) -> None:
        self.camera, self.microphone = camera, microphone
        self._on_frame, self._on_level, self._on_problem = on_frame, on_level, on_problem
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Open the devices and start delivering (returns at once)."""
        self._thread = threading.Thread(target=self._run, name="live-preview", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        """Release the devices (waits up to ``timeout`` for them to close)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _open(self) -> tuple[Any, Any]:
        from zhishiyun.capture.camera_open import parse_camera_spec
        from zhishiyun.capture.sources import CameraSource, MicrophoneSource

        camera = mic = None
        try:
            if self.camera is not None:
                camera = CameraSource(parse_camera_spec(self.camera))
                camera.start()
            if (self.microphone or "").lower() != "none":
                mic = MicrophoneSource(self.microphone)
                mic.start()
        except Exception as exc:  # noqa: BLE001 - shown on the page
            log.info("live preview: %r", exc)
            self._on_problem(getattr(exc, "message", "") or str(exc))
        return camera, mic

    def _run(self) -> None:
        camera, mic = self._open()
        last_frame = 0.0
        recent: deque[tuple[float, float]] = deque()  # (when, peak) of recent audio chunks
        try:
            while not self._stop.is_set():
                frame = None
                if camera is not None:
                    try:
                        while True:  # keep only the newest picture
                            frame = camera.queue.get(timeout=0.05)[1]
                            if camera.queue.empty():
                                break
                    except queue.Empty:
                        pass
                else:
                    self._stop.wait(0.05)
                now = time.monotonic()
                if frame is not None and now - last_frame >= FRAME_INTERVAL_S:
                    last_frame = now
                    self._on_frame(np.ascontiguousarray(frame[:, :, ::-1]))
                if mic is not None:
                    # Some audio stacks deliver in bursts (PulseAudio: up to ~2 s): show the
                    # loudest sound of the last LEVEL_HOLD_S rather than a flickering zero.
                    recent.append((now, self._drain_level(mic)))
                    while recent and recent[0][0] < now - LEVEL_HOLD_S:
                        recent.popleft()
                    self._on_level(max(p for _t, p in recent))
        finally:
            if camera is not None:
                camera.stop()
            if mic is not None:
                # A PulseAudio read in progress ends on its own (a burst can last ~2 s): the
                # next picker or the recorder opens its own stream, so nothing waits for it.
                mic.stop(timeout=0)

    @staticmethod
    def _drain_level(mic: Any) -> float:
        peak = 0.0
        while True:
            try:
                _t, payload = mic.queue.get_nowait()
            except queue.Empty:
                return peak
            if payload is not None and len(payload[0]):
                peak = max(peak, float(np.max(np.abs(payload[0]))))
