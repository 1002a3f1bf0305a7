"""The screen as a capture source: grabs at a fixed rate, unchanged pictures skipped.

The grabber (:mod:`~zhishiyun.capture.screen_grab`) is FFmpeg's x11grab on X11 and mss
elsewhere.
"""

from __future__ import annotations

import numpy as np

from zhishiyun.capture.encoder import BufferPool, to_yuv420p
from zhishiyun.capture.errors import DeviceError
from zhishiyun.capture.screen_grab import open_grabber
from zhishiyun.capture.sources import RETRY_SECONDS, EventSink, Source, clock

SCREEN_QUEUE = 2  # the smallest queue: screen frames are dropped first
COMPARE_STRIDE = 8


class ScreenSource(Source):
    """A monitor at ``fps``; frames identical to the previous one are skipped.

    Options: ``monitor`` (mss number, 1 = first), ``fps`` (5), ``drop_duplicates`` (True),
    ``encoder_size`` (None).
    Items: ``(t, ndarray H×W×4 BGRA)``; with ``encoder_size`` each new picture is converted
    right after the comparison into a ``yuv420p`` :class:`av.VideoFrame` of that size, so
    the queue holds 3 MB frames instead of 8 MB screenshots (1080p) and nothing is
    converted twice.

    Change detection compares every ``COMPARE_STRIDE``-th pixel row with the last frame
    queued, starting one row further down on each grab: an eighth of a full comparison,
    and still every row is looked at within ``COMPARE_STRIDE`` grabs. Anything at least
    that many rows tall (a line of text, a window, a dialog) is noticed at once; a change
    confined to fewer rows within ``COMPARE_STRIDE`` grabs (1.6 s at 5 fps).
    """

    name = "screen"

    def __init__(self, monitor: int = 1, fps: float = 5.0, drop_duplicates: bool = True,
                 on_event: EventSink | None = None, *,
                 encoder_size: tuple[int, int] | None = None) -> None:
        super().__init__(SCREEN_QUEUE, on_event)
        self.monitor, self.fps, self.drop_duplicates = monitor, fps, drop_duplicates
        self.encoder_size = encoder_size
        self.size = (0, 0)
        #: The grabber in use (``x11grab`` or ``mss``), once capturing.
        self.backend = ""
        self._region: dict[str, int] | None = None

    def open(self) -> None:
        """Check the monitor exists and learn its size (raises DeviceError)."""
        from zhishiyun.capture.devices import mss_instance

        with mss_instance() as grabber:
            monitors = grabber.monitors
            if not 0 < self.monitor < len(monitors):
                raise DeviceError(f"screen {self.monitor} does not exist "
                                  f"({len(monitors) - 1} found)", code="display_unavailable")
            self._region = dict(monitors[self.monitor])
            self.size = (int(self._region["width"]), int(self._region["height"]))

    def _run(self) -> None:
        if self._region is None:
            self.open()
        interval = 1.0 / self.fps
        previous: np.ndarray | None = None
        phase = 0
        pool: BufferPool | None = None
        grabber = None
        next_due = clock()
        try:
            while not self._stop.is_set():
                t = clock()
                try:
                    if grabber is None:
                        grabber = open_grabber(self._region, self.fps)
                        self.backend = grabber.name
                    image = grabber.grab()
                except Exception as exc:  # noqa: BLE001 - mss, FFmpeg and the OS raise their own
                    self._set_lost(True, str(exc) or type(exc).__name__)
                    if grabber is not None:
                        grabber.close()
                        grabber = None
                    self._stop.wait(RETRY_SECONDS)
                    continue
                if grabber.paces_itself:
                    t = clock()
                self._set_lost(False)
                if (self.drop_duplicates and previous is not None
                        and previous.shape == image.shape
                        and np.array_equal(previous[phase::COMPARE_STRIDE],
                                           image[phase::COMPARE_STRIDE])):
                    self.counters.captured += 1
                    self.counters.duplicates += 1
                else:
                    previous = image
                    if self.encoder_size is not None:
                        if pool is None or pool.shape[::-1] != (
                                self.encoder_size[0], self.encoder_size[1] * 3 // 2):
                            pool = BufferPool(*self.encoder_size)
                        self._offer(t, to_yuv420p(image, "bgra", *self.encoder_size, pool))
                    else:
                        self._offer(t, image)
                del image  # a duplicate's buffer goes back to the grabber now
                phase = (phase + 1) % COMPARE_STRIDE
                if grabber.paces_itself:
                    continue
                next_due += interval
                delay = next_due - clock()
                if delay < -interval:  # fell behind: skip ahead instead of bursting
                    next_due = clock()
                    delay = 0
                self._stop.wait(max(0.0, delay))
        finally:
            if grabber is not None:
                grabber.close()
