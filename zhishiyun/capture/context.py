"""What a track is given by the recording it belongs to: shared times, outputs, callbacks.

The :class:`~zhishiyun.capture.recorder.Recorder` builds one :class:`TrackContext` at start
and hands it to every :class:`~zhishiyun.capture.tracks.Track`; tracks read the shared
:class:`Timeline` and report through the callbacks, and never reach into the recorder.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from zhishiyun.capture.encoder import EncoderChoice
from zhishiyun.capture.manifest import ManifestWriter
from zhishiyun.capture.recovery import ClosedSegment
from zhishiyun.config import RecordingSettings


class Timeline:
    """The recording's shared times on the one monotonic clock.

    ``t0`` is when segment 0 starts; ``stop_t`` is set once a stop is requested (items
    captured later are not recorded); ``finishing`` turns true when the stop is final and
    the tracks must close their segments.
    """

    def __init__(self) -> None:
        self.t0 = 0.0
        self.stop_t: float | None = None
        self.finishing = False
        self._final = threading.Event()
        self._server_starts: dict[int, datetime] = {}
        self._server_starts_lock = threading.Lock()

    def server_start(self, index: int, at: float,
                     now_server: Callable[[], datetime]) -> datetime:
        """Server time of segment *index*'s start (monotonic *at*), the same for every track.

        The first track to open the segment reads both clocks; the others get the same
        instant, so a thread preempted between its two clock reads cannot shift its
        segment's start against the other track's.
        """
        with self._server_starts_lock:
            start = self._server_starts.get(index)
            if start is None:
                start = now_server() - timedelta(seconds=time.monotonic() - at)
                self._server_starts = {i: t for i, t in self._server_starts.items()
                                       if i >= index - 1}
                self._server_starts[index] = start
            return start

    def finish(self) -> None:
        """Make the stop final: tracks close their last segments and end."""
        self.finishing = True
        self._final.set()

    def wait_finishing(self, timeout: float) -> bool:
        """Sleep until the stop is final (True) or ``timeout`` passed (False)."""
        return self._final.wait(timeout)


@dataclass(frozen=True)
class TrackContext:
    """Everything a track needs from its recording.

    Attributes:
        session_dir: segments go to ``<session_dir>/<track>/<seq>.mp4``.
        settings: the recording settings.
        encoder: the encoders chosen at start.
        first_seq: seq of the track's first segment.
        timeline: the shared times (start, stop).
        manifest: where closed segments are recorded.
        now_server: the server's time (tz-aware), for segment start times.
        emit: ``emit(kind, source, detail)`` reports a recorder event.
        request_stop: ``request_stop(reason)`` stops the recording without waiting.
        segment_closed: called with each closed segment, on the track's closer thread.
    """

    session_dir: Path
    settings: RecordingSettings
    encoder: EncoderChoice
    first_seq: int
    timeline: Timeline
    manifest: ManifestWriter
    now_server: Callable[[], datetime]
    emit: Callable[[str, str, str], None]
    request_stop: Callable[[str], None]
    segment_closed: Callable[[ClosedSegment], None]
