"""One track (``screen`` or ``camera``): encoder thread, segment cutting, audio timeline.

A track owns its :class:`~zhishiyun.capture.encoder.SegmentFile` and runs on its own thread
(``encode-<track>``); a second thread (``close-<track>``) fsyncs, hashes and records each
closed segment. Segment ``k`` covers ``[t0 + k·S, t0 + (k+1)·S)`` on the shared
monotonic clock, so both tracks cut on the same boundaries. A segment is rolled
``GRACE`` seconds after its boundary, once every item captured before the boundary has
been taken from the queues; items from after the boundary wait for the next segment.
"""

from __future__ import annotations

import json
import logging
import math
import os
import queue
import threading
import time
from pathlib import Path
from typing import Any

import av
import numpy as np

from zhishiyun.capture.audio_timeline import AUDIO_WARMUP, AudioTimeline
from zhishiyun.capture.context import TrackContext
from zhishiyun.capture.encoder import SegmentFile
from zhishiyun.capture.manifest import format_time, fsync_path, sha256_file
from zhishiyun.capture.memory import release_free_memory
from zhishiyun.capture.recovery import ClosedSegment, marker_path, segment_path
from zhishiyun.capture.sources import MicrophoneSource, Source, clock
from zhishiyun.config import RecordingSettings

log = logging.getLogger(__name__)

#: A picture from a source: a BGR/BGRA array, or a ``yuv420p`` frame ready to encode.
Picture = np.ndarray | av.VideoFrame

GRACE = 0.3
#: How long the encoder thread waits for a picture before it looks at the clock (a
#: boundary's roll, a heartbeat, the stop). A static screen queues no pictures at all, so
#: this is how often its thread wakes: 20 times a second (50 ms) cost an idle track
#: 1–1.5 ms of CPU a second more than 5 times; a roll, a heartbeat or the stop is at most
#: this much later, well within the grace period.
WAIT_S = 0.2
MAX_GRACE = 3.0
#: How often an unchanging track notes in its open-segment marker that it is alive: a
#: killed recorder's static segment is recovered to within this of its length. Each
#: write (JSON, write, rename) costs 0.5–0.7 ms of CPU in a recording, so twice a second
#: was 1.4 ms a second of a static screen's ~15.
ALIVE_S = 1.0
#: While frames are being written the file's last frame tells recovery how long the
#: segment ran, so the marker is refreshed this seldom; it still bounds the length of a
#: segment that turns out undecodable.
ALIVE_WHILE_ENCODING_S = 5.0


def detached(image: Picture) -> Picture:
    """A frame to hold through a segment's grace period, in memory of its own.

    A decoder's frame (the stand-in file's, a webcam's MJPEG) lives in the decoder's buffer
    pool, which grows to as many frames as are held at once and never shrinks: holding ~2 s
    of camera frames at each boundary (a microphone reporting a long delay) would keep
    that many buffers, 13 MB here, for as long as the decoder lives. A copy costs ~0.1 ms
    per held frame and is freed once encoded.
    """
    if isinstance(image, av.VideoFrame) and image.format.name == "yuv420p":
        return av.VideoFrame.from_numpy_buffer(image.to_ndarray(), format="yuv420p")
    return image


class Track(AudioTimeline):
    """Encodes one track into segments; see the module docstring.

    Built before the recording starts; :meth:`start` gives it the recording's
    :class:`~zhishiyun.capture.context.TrackContext`.
    """

    def __init__(self, name: str, video: Source | None, size: tuple[int, int], fps: float,
                 pixel_format: str, microphone: MicrophoneSource | None = None) -> None:
        self.context: TrackContext | None = None
        self.name = name
        self.video = video
        self.size = size
        self.fps = fps
        self.pixel_format = pixel_format
        self.microphone = microphone
        self.closed: list[ClosedSegment] = []
        self.encoded_frames = 0
        self.heartbeat_frames = 0
        self.audio_resyncs = 0
        self.audio_samples = 0
        self.audio_delay = 0.0
        self.error = ""
        #: CPU time of the track's encoder and closer threads (reported when they end).
        self.cpu_seconds: dict[str, float] = {}
        self._segment: SegmentFile | None = None
        self._index = 0
        self._seg_start = 0.0
        self._warmup_s = 0.0
        self._start_iso = ""
        self._held_video: list[tuple[float, Any]] = []
        self._held_audio: list[tuple[float, np.ndarray]] = []
        self._last_image: Picture | None = None
        self._preview: tuple[Picture, np.ndarray] | None = None
        self._last_encoded_t = -math.inf
        self._alive_t = -math.inf
        self._segment_path = Path()
        self._seq = 0
        self._anchor: float | None = None
        self._audio_total = 0
        self._window_start = 0.0
        self._window_min = math.inf
        self._thread: threading.Thread | None = None
        self._closing: queue.Queue[tuple[Path, dict[str, Any]] | None] = queue.Queue()
        self._closer = threading.Thread(target=self._run_closer, name=f"close-{name}",
                                        daemon=True)
        self._black = np.zeros((size[1], size[0], 3 if pixel_format == "bgr24" else 4),
                               np.uint8)

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def _ctx(self) -> TrackContext:
        assert self.context is not None, "the track has not been started"
        return self.context

    @property
    def settings(self) -> RecordingSettings:
        """The recording settings."""
        return self._ctx.settings

    @property
    def last_image(self) -> np.ndarray | None:
        """The newest real picture encoded (not a black placeholder), as a BGR/BGRA array.

        A picture that arrived as a video frame is converted on the first call only.
        """
        image = self._last_image
        if image is None or isinstance(image, np.ndarray):
            return image
        preview = self._preview
        if preview is None or preview[0] is not image:
            preview = (image, image.to_ndarray(format="bgr24"))
            self._preview = preview
        return preview[1]

    @property
    def grace(self) -> float:
        """How long after a boundary to wait for late items (audio may arrive late)."""
        return min(MAX_GRACE, max(GRACE, self.audio_delay + 0.1))

    @property
    def boundary(self) -> float:
        """Monotonic time at which the current segment ends."""
        return self._ctx.timeline.t0 + (self._index + 1) * self.settings.segment_seconds

    def start(self, context: TrackContext) -> None:
        """Open the first segment and start the encoder and closer threads."""
        self.context = context
        if self.microphone is not None:
            self._warmup_s = AUDIO_WARMUP.get(context.encoder.audio, 0) / self.microphone.rate
        self._closer.start()
        self._open_segment(0)
        self._thread = threading.Thread(target=self._run_guarded, name=f"encode-{self.name}",
                                        daemon=True)
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the threads (they end after the recorder's stop is final)."""
        if self._thread is not None:
            self._thread.join(timeout)
        if self._closer.ident is not None:  # started
            self._closing.put(None)
            self._closer.join(timeout)

    def _run_guarded(self) -> None:
        try:
            self._run()
        except Exception as exc:  # noqa: BLE001 - report, close what can be closed
            log.exception("track %s failed", self.name)
            self.error = str(exc)
            self._ctx.emit("track_failed", self.name, str(exc))
            try:
                self._close_segment(clock())
            except Exception:  # noqa: BLE001
                log.exception("closing %s after a failure failed", self.name)
            self._ctx.request_stop("track_failed")
        finally:
            self.cpu_seconds["encode"] = time.thread_time()

    def _run(self) -> None:
        timeline = self._ctx.timeline
        while True:
            if timeline.finishing:
                stop_t = timeline.stop_t
                assert stop_t is not None
                self._drain(block=False)
                while self.boundary <= stop_t:
                    self._roll()
                self._close_segment(stop_t)
                return
            self._drain(block=True)
            now = clock()
            stopping_before = (timeline.stop_t is not None
                               and timeline.stop_t <= self.boundary)
            if now >= self.boundary + self.grace and not stopping_before:
                self._drain(block=False)
                self._roll()
            self._heartbeat(now)

    # --- routing --------------------------------------------------------------------------

    def _drain(self, block: bool) -> None:
        """Take what the sources queued; wait up to ``WAIT_S`` for a frame when ``block``."""
        if block:
            if self.video is not None:
                try:
                    self._video_in(*self.video.queue.get(timeout=WAIT_S))
                except queue.Empty:
                    pass
            else:
                self._ctx.timeline.wait_finishing(WAIT_S)
        for source, handler in ((self.video, self._video_in),
                                (self.microphone, self._audio_in)):
            if source is None:
                continue
            while True:
                try:
                    t, payload = source.queue.get_nowait()
                except queue.Empty:
                    break
                handler(t, payload)

    def _video_in(self, t: float, image: Picture) -> None:
        stop_t = self._ctx.timeline.stop_t
        if stop_t is not None and t >= stop_t:
            return
        if t >= self.boundary:
            self._held_video.append((t, detached(image)))
            return
        self._encode(t, image)
        self.video.counters.encoded += 1  # type: ignore[union-attr]

    def _encode(self, t: float, image: Picture) -> None:
        assert self._segment is not None
        t_ms = max(0, int(round((t - self._seg_start) * 1000)))
        self._segment.add_video(image, t_ms, self.pixel_format)
        if image is not self._black:
            self._last_image = image
        self._last_encoded_t = t
        self.encoded_frames += 1

    def _heartbeat(self, now: float) -> None:
        """Keep an unchanging picture seekable, and note that the segment is still alive.

        A static screen (or a lost camera, shown black) gets its picture re-encoded as a
        keyframe every ``keyframe_seconds``; re-encoding it more often would cost more CPU
        than the whole camera track. Instead, every ``ALIVE_S`` the open-segment marker
        records the time, so crash recovery knows how long an unchanging segment lasted
        even though its last frame was written earlier (every ``ALIVE_WHILE_ENCODING_S``
        while frames keep coming).
        """
        stop_t = self._ctx.timeline.stop_t
        if now >= self.boundary or (stop_t is not None and now >= stop_t):
            return
        unchanging = now - self._last_encoded_t >= ALIVE_S
        if now - self._alive_t >= (ALIVE_S if unchanging else ALIVE_WHILE_ENCODING_S):
            self._alive_t = now
            self._write_marker(alive=now)
        if now - self._last_encoded_t < self.settings.keyframe_seconds:
            return
        if self._showing_black():
            self._encode(now, self._black)
        else:
            assert self._segment is not None
            t_ms = max(0, int(round((now - self._seg_start) * 1000)))
            self._segment.repeat_last(t_ms)
            self._last_encoded_t = now
        self.heartbeat_frames += 1

    def _showing_black(self) -> bool:
        return self.video is None or self.video.lost or self._last_image is None

    def _roll(self) -> None:
        end = self.boundary
        self._close_segment(end)
        self._open_segment(self._index + 1)
        held_video, self._held_video = self._held_video, []
        held_audio, self._held_audio = self._held_audio, []
        for t, image in held_video:
            self._video_in(t, image)
        for t, samples in held_audio:
            self._audio_place(t, samples)

    def _open_segment(self, index: int) -> None:
        ctx = self._ctx
        self._index = index
        self._seg_start = ctx.timeline.t0 + index * self.settings.segment_seconds
        seq = ctx.first_seq + index
        path = segment_path(ctx.session_dir, self.name, seq)
        start_server = ctx.timeline.server_start(index, self._seg_start, ctx.now_server)
        self._start_iso = format_time(start_server)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._segment_path = path
        self._seq = seq
        self._write_marker(alive=self._seg_start)
        self._segment = SegmentFile(
            path, ctx.encoder, self.settings, width=self.size[0], height=self.size[1],
            fps=self.fps, with_audio=self.microphone is not None)
        # Every segment starts with a full picture. When one was taken within a frame
        # after the boundary (a changing screen, a camera), it opens the segment, moved
        # back by less than a frame; repeating the last picture instead would add a frame
        # to every segment of a changing screen (+0.7 % of its size at 30 s).
        held = self._held_video
        if held and held[0][0] - self._seg_start < 1.0 / self.fps:
            held[0] = (self._seg_start, held[0][1])
            return
        image = self._black if self._showing_black() else self._last_image
        self._encode(self._seg_start, image)

    def _write_marker(self, alive: float) -> None:
        """Write ``<seq>.open.json`` atomically: start (server time), encoder, alive time."""
        marker = marker_path(self._segment_path)
        tmp = marker.with_suffix(".tmp")
        tmp.write_text(json.dumps({
            "track": self.name, "seq": self._seq, "start": self._start_iso,
            "encoder": self._ctx.encoder.video, "monotonic_start": self._seg_start,
            "alive_ms": int(round((alive - self._seg_start) * 1000)),
        }), encoding="utf-8")
        os.replace(tmp, marker)

    def _close_segment(self, end: float) -> None:
        segment, self._segment = self._segment, None
        if segment is None:
            return
        seq = self._ctx.first_seq + self._index
        last_at = end - 1.0 / self.fps
        if self._last_encoded_t < last_at and self._last_image is not None:
            self._segment = segment  # a closing frame keeps a static segment's full length
            self._encode(last_at, self._black if self._showing_black() else self._last_image)
            self._segment = None
        if self.microphone is not None:  # audio that never came (a lost mic) is silence
            wanted = int(round((end - self._seg_start) * self.microphone.rate))
            if wanted > segment.audio_written:
                segment.add_audio(np.zeros(wanted - segment.audio_written, np.float32))
        segment.close()  # flushes the encoders; fsync and sha256 on the closer
        record: dict[str, Any] = {
            "seq": seq, "track": self.name, "start": self._start_iso,
            "duration_ms": max(0, int(round((end - self._seg_start) * 1000))),
            "encoder": self._ctx.encoder.video, "frames": segment.video_frames,
        }
        self._closing.put((segment.path, record))
        del segment  # the encoder's memory is freed here; hand it back before the next one
        release_free_memory()

    def _run_closer(self) -> None:
        """On ``close-<track>``: fsync, sha256 from disk, manifest line, ``segment_did_close``.

        Kept off the encoder thread: an fsync on a busy disk can take seconds, and the
        camera must not drop frames meanwhile.
        """
        while True:
            item = self._closing.get()
            if item is None:
                self.cpu_seconds["close"] = time.thread_time()
                return
            path, record = item
            try:
                fsync_path(path)
                digest, size = sha256_file(path)
                record.update(bytes=size, sha256=digest)
                written = self._ctx.manifest.append(record)
                marker_path(path).unlink(missing_ok=True)
            except Exception as exc:  # noqa: BLE001 - recovery picks the segment up later
                log.exception("closing %s failed", path)
                self._ctx.emit("track_failed", self.name, f"closing {path.name}: {exc}")
                continue
            closed = ClosedSegment(self.name, record["seq"], path, record["start"],
                                   record["duration_ms"], record["bytes"], record["sha256"],
                                   False, written)
            self.closed.append(closed)
            self._ctx.segment_closed(closed)
