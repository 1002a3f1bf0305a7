"""A video file standing in for a camera, decoded by PyAV straight into encoder frames.

OpenCV hands out BGR pictures, which the encoder would convert back to ``yuv420p``: two
full-frame conversions per frame for nothing. Here each picture is decoded once, in the
file's own format, and reformatted (libswscale) only when its size or format differs
from the track's; a 640×480 ``yuv420p`` stand-in goes to the encoder untouched.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import av

from zhishiyun.capture.errors import DeviceError

if TYPE_CHECKING:
    from zhishiyun.capture.sources import SourceCounters
from zhishiyun.i18n import _

#: Measured on a 640×480 H.264 stand-in (one slice a picture): 0.30 ms per frame decoding
#: back to back with one thread, 0.31 with two slice threads, 0.35 with frame threads
#: (which also delay each frame); at the camera's pace 0.76 and 0.78 ms. A single-slice
#: file gives a second thread nothing to do, so the decoder runs on the camera's thread.
DECODE_THREAD_TYPE = "SLICE"
DECODE_THREADS = 1


class FileFrames:
    """One pass over a video file: ``yuv420p`` frames of ``width×height`` and its rate."""

    def __init__(self, path: Path, width: int, height: int) -> None:
        self.path, self.width, self.height = path, width, height
        try:
            self._container = av.open(str(path))
            self._stream = self._container.streams.video[0]
        except (av.error.FFmpegError, IndexError, OSError) as exc:
            raise DeviceError(
                _("The video file {path} cannot be read as a camera.").format(path=path),
                hint=_("Check that it is a video file (MP4, MKV, AVI) and not damaged."),
                code="camera_unreadable") from exc
        self._stream.thread_type = DECODE_THREAD_TYPE
        self._stream.thread_count = DECODE_THREADS
        rate = self._stream.average_rate or self._stream.guessed_rate
        self.fps = float(rate) if rate else 0.0

    def __iter__(self) -> Iterator[av.VideoFrame]:
        try:
            for frame in self._container.decode(self._stream):
                if (frame.width, frame.height, frame.format.name) != (
                        self.width, self.height, "yuv420p"):
                    frame = frame.reformat(self.width, self.height, "yuv420p",
                                           interpolation="AREA")
                yield frame
        except av.error.FFmpegError:
            return  # a damaged tail ends the pass like the end of the file

    def close(self) -> None:
        """Release the file and the decoder."""
        self._container.close()


class PacedFrames:
    """The stand-in file as a queue its consumer pulls from, decoded on the consumer's thread.

    A live camera's frames come from its own thread through a queue. A file needs no
    thread of its own: the encoder thread, which waits for frames anyway, decodes the next
    one when it asks and is handed it once it is due, so no picture moves between threads.
    Each frame carries the time it was due, as a camera's frame carries its capture time:
    an encoder that is busy for a while (a segment's roll) then takes the frames it missed
    with their own times, as it would from a queue, and, as from a full queue, frames more
    than ``backlog_seconds`` overdue are dropped and counted.

    ``get(timeout)`` and ``get_nowait()`` behave as :class:`queue.SimpleQueue`'s for the
    consumer: ``(t, frame)``, or :class:`queue.Empty` when no frame is due in time. Once
    ``stop`` is set, frames due before it was seen are still handed out, then none.
    """

    def __init__(self, path: Path, width: int, height: int, fps: float, *,
                 stop: threading.Event, set_lost: Callable[[bool, str], None],
                 counters: SourceCounters, retry_seconds: float,
                 backlog_seconds: float) -> None:
        self.path, self.width, self.height = path, width, height
        self._interval = 1.0 / fps
        self._stop, self._set_lost, self._counters = stop, set_lost, counters
        self._retry_seconds, self._backlog = retry_seconds, backlog_seconds
        self._frames: FileFrames | None = None
        self._iterator: Iterator[av.VideoFrame] | None = None
        self._pending: av.VideoFrame | None = None
        self._due = 0.0  # when the pending frame is due
        self._delivered = False  # whether the open pass gave any frame
        self._retry_at = 0.0
        self._stopped_at: float | None = None
        self._next_due = -math.inf  # the camera rate: the earliest time of the next frame
        self._file_interval = self._interval

    def get(self, timeout: float) -> tuple[float, av.VideoFrame]:
        """The next frame once it is due, waiting at most ``timeout`` seconds for it."""
        deadline = time.monotonic() + timeout
        while True:
            item = self._take()
            if item is not None:
                return item
            now = time.monotonic()
            if self._stopped_at is not None:  # stopped: wait as on an empty queue
                time.sleep(max(0.0, deadline - now))
                raise queue.Empty
            if self._pending is None or self._due > deadline:  # nothing due in time
                self._stop.wait(max(0.0, deadline - now))
                raise queue.Empty
            self._stop.wait(max(0.0, self._due - now))

    def get_nowait(self) -> tuple[float, av.VideoFrame]:
        """A frame that is already due, else :class:`queue.Empty`."""
        item = self._take()
        if item is None:
            raise queue.Empty
        return item

    def close(self) -> None:
        """Release the file and the decoder."""
        if self._frames is not None:
            self._frames.close()
        self._frames = self._iterator = self._pending = None

    def _take(self) -> tuple[float, av.VideoFrame] | None:
        """The next due frame at the camera's rate; ``None`` when none is due yet."""
        while True:
            now = time.monotonic()
            if self._stop.is_set() and self._stopped_at is None:
                self._stopped_at = now
            if not self._prepare(now):
                return None
            due, limit = self._due, self._stopped_at if self._stopped_at is not None else now
            if due > limit:
                if self._stopped_at is not None:
                    self.close()  # nothing more comes: let the file go, on this thread
                return None
            frame, self._pending = self._pending, None
            if due < self._next_due - self._interval / 2:
                continue  # the file is faster than the camera's rate
            self._next_due = max(self._next_due + self._interval, due - self._interval)
            self._counters.captured += 1
            if due < now - self._backlog:
                self._counters.dropped += 1  # as a full queue drops a camera's frame
                continue
            self._counters.queued += 1
            return due, frame

    def _prepare(self, now: float) -> bool:
        """Decode the next frame if none is pending; whether one is."""
        while self._pending is None:
            if now < self._retry_at or (self._frames is None and self._stopped_at is not None):
                return False
            if self._iterator is None and not self._open(now):
                return False
            assert self._iterator is not None
            frame = next(self._iterator, None)
            if frame is None:  # the end of the pass: loop, or report a file with no frames
                delivered = self._delivered
                self.close()
                if not delivered:
                    self._lost("no frames", now)
                    return False
                continue
            self._delivered = True
            self._set_lost(False, "")
            self._due += self._file_interval
            if self._due < now - self._backlog:  # a long stall: the frames it missed are
                missed = int((now - self._backlog - self._due) / self._interval)  # dropped
                self._counters.captured += missed
                self._counters.dropped += missed
                self._due = now - self._backlog
            self._pending = frame
        return True

    def _open(self, now: float) -> bool:
        if not self.path.exists():  # the file went away: the camera is "unplugged"
            self._lost("file missing", now)
            return False
        try:
            self._frames = FileFrames(self.path, self.width, self.height)
        except DeviceError as exc:
            self._lost(exc.message, now)
            return False
        self._iterator = iter(self._frames)
        self._delivered = False
        self._file_interval = 1.0 / self._frames.fps if self._frames.fps > 0 else self._interval
        self._due = max(self._due, now - self._file_interval)  # the first frame: now
        return True

    def _lost(self, detail: str, now: float) -> None:
        self._set_lost(True, detail)
        self._retry_at = now + self._retry_seconds
