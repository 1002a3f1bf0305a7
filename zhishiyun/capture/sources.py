"""Capture sources: one class per device, each with its own thread and a bounded queue.

(The camera stand-in file of a recording is the exception: the encoder pulls its frames,
see :class:`~zhishiyun.capture.file_camera.PacedFrames`.)

Every item a source queues is ``(t, payload)`` with ``t`` from :func:`clock` (the one
monotonic clock of the recorder; the screen source is in :mod:`~zhishiyun.capture.screen`).
When a queue is full the item is dropped and counted;
the queue sizes encode the drop order: the screen queue is the smallest (dropped first),
the camera queue holds about a second, and the audio queue is large enough that audio is
never dropped in practice (a drop would be counted).

Sources report device loss and recovery through ``on_event(kind, source_name, detail)``,
called on the source's own thread (the microphone's on the recorder's watchdog thread).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zhishiyun.capture.camera_formats import BGR, NativeFrames, negotiate_format
from zhishiyun.capture.camera_open import CameraSpec, cv2, open_capture
from zhishiyun.capture.errors import DeviceError
from zhishiyun.capture.pulse_input import PulseReader

log = logging.getLogger(__name__)

#: The one clock every timestamp comes from.
clock = time.monotonic

CAMERA_QUEUE_SECONDS = 1.0
#: 100 ms per microphone chunk (a PulseAudio read, a PortAudio callback): every chunk costs
#: Python a call, a queue hop and a timeline step, so 10 a second instead of 50 (20 ms
#: blocks) take about 3 ms of CPU a second less; latency does not matter to a recording,
#: and meters update 10 times a second.
AUDIO_BLOCK_SECONDS = 0.1
AUDIO_QUEUE_CHUNKS = 600  # ~60 s of chunks
RETRY_SECONDS = 3.0
LOST_AFTER_SECONDS = 2.0
MAX_DELAY_S = 5.0
MIC_LOST_AFTER_SECONDS = 5.0  # sound servers may deliver in bursts seconds apart

EventSink = Callable[[str, str, str], None]


@dataclass
class SourceCounters:
    """Frames (or audio chunks) captured, queued for encoding, dropped, and duplicates."""

    captured: int = 0
    queued: int = 0
    dropped: int = 0
    duplicates: int = 0
    encoded: int = 0

    def to_dict(self) -> dict[str, int]:
        """Plain JSON-ready form."""
        return dict(vars(self))


class Source:
    """Base: a named device with a thread, a bounded queue and counters."""

    name = "source"

    def __init__(self, queue_size: int, on_event: EventSink | None = None) -> None:
        # SimpleQueue (C) rather than Queue (Python, a condition variable): a put and a get
        # cost ~60 us less on this machine, and every picture and chunk takes one of each.
        # One thread puts, so checking the size before putting keeps the bound.
        self.queue: queue.SimpleQueue[tuple[float, Any]] = queue.SimpleQueue()
        self.queue_size = queue_size
        self.counters = SourceCounters()
        self.lost = False
        self._on_event = on_event or (lambda kind, name, detail: None)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cpu: dict[int, float] = {}

    def _offer(self, t: float, payload: Any) -> None:
        self.counters.captured += 1
        if self.queue.qsize() >= self.queue_size:
            self.counters.dropped += 1
            return
        self.queue.put_nowait((t, payload))
        self.counters.queued += 1

    def _set_lost(self, lost: bool, detail: str = "") -> None:
        if lost == self.lost:
            return
        self.lost = lost
        kind = "device_lost" if lost else "device_restored"
        (log.warning if lost else log.info)("%s %s: %s", self.name, kind, detail)
        self._on_event(kind, self.name, detail)

    def start(self) -> None:
        """Start capturing on the source's own thread."""
        self._thread = threading.Thread(target=self._run_guarded, name=f"capture-{self.name}",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        """Ask the thread to stop and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def cpu_seconds(self) -> float:
        """CPU time the source's own thread(s) used, as of their last report."""
        return sum(self._cpu.values())

    def _note_cpu(self) -> None:
        """Record the calling thread's CPU time (threads report their own)."""
        self._cpu[threading.get_ident()] = time.thread_time()

    def _run_guarded(self) -> None:
        try:
            self._run()
        except Exception as exc:  # noqa: BLE001 - a device thread must report, not vanish
            log.exception("%s capture failed", self.name)
            self._set_lost(True, str(exc))
        finally:
            self._note_cpu()

    def _run(self) -> None:
        raise NotImplementedError


class CameraSource(Source):
    """A camera (OpenCV) or a video file standing in for one (looped, paced in real time).

    Options: ``spec`` (index or file path), ``width``/``height`` (640×480), ``fps`` (15),
    ``encoder_frames`` (False).
    Items: ``(t, ndarray height×width×3 BGR)``; with ``encoder_frames`` a stand-in file
    gives ``yuv420p`` :class:`av.VideoFrame` objects instead, decoded once by PyAV
    (:mod:`~zhishiyun.capture.file_camera`), which the recorder encodes as they are, and
    so does a webcam that delivers MJPEG or YUYV (:mod:`~zhishiyun.capture.camera_formats`;
    others give BGR arrays). A camera that fails for ``LOST_AFTER_SECONDS`` is reported
    lost, released and reopened every ``RETRY_SECONDS``. A stand-in file with
    ``encoder_frames`` has no thread: its ``queue`` is a
    :class:`~zhishiyun.capture.file_camera.PacedFrames` the encoder thread decodes from.
    """

    name = "camera"

    def __init__(self, spec: CameraSpec, width: int = 640, height: int = 480,
                 fps: float = 15.0, on_event: EventSink | None = None, *,
                 encoder_frames: bool = False) -> None:
        super().__init__(max(2, int(fps * CAMERA_QUEUE_SECONDS)), on_event)
        self.spec, self.width, self.height, self.fps = spec, width, height, fps
        self.is_file = isinstance(spec, Path)
        self.encoder_frames = encoder_frames
        self.backend = ""
        #: What the camera delivers: ``MJPG``/``YUYV`` (converted once), ``BGR`` or ``file``.
        self.pixel_format = ""
        self._native: NativeFrames | None = None
        if self.is_file and encoder_frames:
            # decoded on the encoder thread when it takes a frame: no thread of its own
            from zhishiyun.capture.file_camera import PacedFrames

            self.backend, self.pixel_format = "PyAV", "file"
            self.queue = PacedFrames(  # type: ignore[assignment]
                spec, width, height, fps, stop=self._stop, set_lost=self._set_lost,
                counters=self.counters, retry_seconds=RETRY_SECONDS,
                backlog_seconds=CAMERA_QUEUE_SECONDS)

    @property
    def pulled(self) -> bool:
        """Whether the consumer decodes the frames itself (a stand-in file for a recording)."""
        return self.is_file and self.encoder_frames

    def start(self) -> None:
        """Start capturing (a pulled stand-in file has nothing to start)."""
        if not self.pulled:
            super().start()

    def _open(self):
        from zhishiyun.capture.camera_open import backend_name

        capture = open_capture(self.spec, self.width, self.height, self.fps)
        self.backend = backend_name(capture)
        self._native = None
        self.pixel_format = "file" if self.is_file else BGR
        if self.encoder_frames and not self.is_file:
            fourcc = negotiate_format(capture, self.width, self.height, self.fps)
            if fourcc != BGR:
                self._native = NativeFrames(fourcc, self.width, self.height)
            self.pixel_format = fourcc
        return capture

    def _run(self) -> None:
        self._run_capture()

    def _run_capture(self) -> None:
        capture = None
        interval = 1.0 / self.fps
        next_due = clock()
        file_interval = interval
        file_due = last_good = clock()
        rewound = False
        while not self._stop.is_set():
            if capture is None:
                try:
                    capture = self._open()
                    file_fps = capture.get(cv2.CAP_PROP_FPS) if self.is_file else 0
                    file_interval = 1.0 / file_fps if file_fps and file_fps > 0 else interval
                    last_good = clock()
                    self._set_lost(False)
                except DeviceError as exc:
                    self._set_lost(True, exc.message)
                    self._stop.wait(RETRY_SECONDS)
                    continue
            ok, frame = capture.read()
            t = clock()
            if not ok or frame is None:
                if self.is_file:  # end of the stand-in file: loop
                    if not self.spec.exists():  # the file went away: the camera is "unplugged"
                        capture.release()
                        capture = None
                    elif not capture.set(cv2.CAP_PROP_POS_FRAMES, 0) or rewound:
                        capture.release()  # cannot rewind (or rewound to nothing): reopen
                        capture = None
                    rewound = True
                    continue
                if t - last_good > LOST_AFTER_SECONDS:
                    capture.release()
                    capture = None
                    self._set_lost(True, "no frames")
                    self._stop.wait(RETRY_SECONDS)
                else:
                    self._stop.wait(0.02)
                continue
            last_good = t
            rewound = False
            if self.is_file:  # pace the file like a live camera
                file_due = max(file_due + file_interval, t - 1.0)
                self._stop.wait(max(0.0, file_due - t))
                t = clock()
            if t < next_due - interval / 2:
                continue  # the device is faster than the configured rate
            next_due = max(next_due + interval, t - interval)
            if self._native is not None:
                picture = self._native.convert(frame)
                if picture is None:  # not what the format promised: OpenCV's BGR from now
                    log.info("camera %s frames are not as negotiated; using BGR",
                             self._native.fourcc)
                    self._native = None
                    self.pixel_format = BGR
                    capture.set(cv2.CAP_PROP_CONVERT_RGB, 1)
                    continue
                self._offer(t, picture)
                continue
            if frame.shape[1] != self.width or frame.shape[0] != self.height:
                frame = cv2.resize(frame, (self.width, self.height), interpolation=cv2.INTER_AREA)
            self._offer(t, frame)
        if capture is not None:
            capture.release()


class MicrophoneSource(Source):
    """A microphone: PulseAudio read natively on Linux, else PortAudio (sounddevice).

    Options: ``device`` (name or None for the default), ``rate`` (16000), ``channels`` (1).
    Items: ``(t_chunk, (float32 mono samples, delay))`` where ``t_chunk`` is when the chunk
    arrived and ``delay`` how long before that its first sample was captured (PulseAudio's
    latency, PortAudio's ADC time, else the stream latency), or ``(t, None)`` before a
    reopened stream's first chunk; the recorder turns arrival times into a continuous
    timeline. Where libpulse loads and the device is the default or a PulseAudio source,
    :mod:`~zhishiyun.capture.pulse_input` reads it (``backend`` ``PulseAudio``) and
    PortAudio is never imported; otherwise PortAudio's callback copies into the queue
    (``backend`` ``PortAudio``). Levels (``rms``/``peak`` of the latest chunk) come from
    the chunk the consumer hands to :meth:`note_level`. ``check()`` (called by the
    recorder's watchdog) detects a stalled or closed stream and retries.
    """

    name = "microphone"

    def __init__(self, device: str | None = None, rate: int = 16000, channels: int = 1,
                 on_event: EventSink | None = None) -> None:
        super().__init__(AUDIO_QUEUE_CHUNKS, on_event)
        self.device, self.rate, self.channels = device, rate, channels
        self._level_chunk: np.ndarray | None = None
        self._level_cache: tuple[np.ndarray | None, float, float] = (None, 0.0, 0.0)
        self.overflows = 0
        self.latency = 0.0
        self.backend = ""
        self._stream = None
        self._readers: list[PulseReader] = []  # all opened, for their event loops' CPU
        self._last_callback = 0.0
        self._next_retry = 0.0
        self._lock = threading.Lock()

    @property
    def cpu_seconds(self) -> float:
        """CPU time of the capture threads (and libpulse's event loops) so far."""
        return super().cpu_seconds + sum(reader.mainloop_cpu for reader in self._readers)

    def _chunk(self, samples: np.ndarray, delay: float) -> None:
        self._last_callback = clock()
        self._note_cpu()  # the capture thread's CPU time so far
        self._offer(self._last_callback,
                    (samples, delay if 0.0 < delay < MAX_DELAY_S else self.latency))

    def _callback(self, indata, frames, time_info, status) -> None:  # noqa: ARG002
        if status.input_overflow:
            self.overflows += 1
        self._chunk(indata[:, 0].copy(), time_info.currentTime - time_info.inputBufferAdcTime)

    def _open(self) -> None:
        from zhishiyun.capture import pulse_input

        if pulse_input.available():
            try:
                reader = PulseReader(self.device, self.rate, self.channels,
                                                 int(self.rate * AUDIO_BLOCK_SECONDS),
                                                 self._chunk)
            except pulse_input.PulseError as exc:
                log.info("microphone %r is not a PulseAudio source (%s); using PortAudio",
                         self.device, exc)
            else:
                self.latency = reader.latency + reader.block_seconds
                self._readers.append(reader)
                self._stream, self.backend = reader, "PulseAudio"
                self._last_callback = clock()
                reader.start()
                return
        self._open_portaudio()

    def _open_portaudio(self) -> None:
        from zhishiyun.capture.devices import _sounddevice
        from zhishiyun.capture.probe import microphone_error, resolve_microphone

        sd = _sounddevice()
        index = resolve_microphone(self.device)
        try:
            stream = sd.InputStream(device=index, channels=self.channels, samplerate=self.rate,
                                    dtype="float32",
                                    blocksize=int(self.rate * AUDIO_BLOCK_SECONDS),
                                    callback=self._callback)
            stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            raise microphone_error(self.device, exc) from None
        self.latency = float(stream.latency or 0.0)
        self._stream, self.backend = stream, "PortAudio"
        self._last_callback = clock()

    def open(self) -> None:
        """Open the stream now, without the retries :meth:`start` arranges.

        Raises:
            DeviceError: the microphone cannot be opened.
        """
        with self._lock:
            self._open()

    def start(self) -> None:
        """Open the stream; on failure report the device lost (retried by ``check``)."""
        with self._lock:
            try:
                self._open()
            except DeviceError as exc:
                self._set_lost(True, exc.message)
                self._next_retry = clock() + RETRY_SECONDS

    def check(self) -> None:
        """Watchdog: report a stalled stream lost; reopen a lost one every few seconds."""
        with self._lock:
            if self._stop.is_set():
                return
            now = clock()
            if self._stream is not None:
                stalled = now - self._last_callback > MIC_LOST_AFTER_SECONDS
                if stalled or not self._stream.active:
                    self._close_stream()
                    self._set_lost(True, "stream stopped" if not stalled else "no audio data")
                    self._next_retry = now + RETRY_SECONDS
                return
            if now >= self._next_retry:
                try:
                    self.queue.put((now, None))  # the track restarts its audio timeline
                    self._open()
                    self._set_lost(False)
                except DeviceError as exc:
                    log.info("microphone retry failed: %s", exc.message)
                    self._next_retry = now + RETRY_SECONDS

    def note_level(self, samples: np.ndarray) -> None:
        """Keep the latest chunk for the meters (called by the consumer, not the callback).

        The levels are worked out when someone reads them (a meter, the summary): a meter
        reads a few times a second at most, a recording without one never.
        """
        if samples.size:
            self._level_chunk = samples

    @property
    def level_rms(self) -> float:
        """RMS of the latest chunk (0.0 before the first)."""
        return self._levels()[0]

    @property
    def level_peak(self) -> float:
        """Largest absolute sample of the latest chunk (0.0 before the first)."""
        return self._levels()[1]

    def _levels(self) -> tuple[float, float]:
        chunk, cached = self._level_chunk, self._level_cache
        if cached[0] is not chunk:
            if chunk is None:
                return 0.0, 0.0
            wide = chunk.astype(np.float64)
            cached = (chunk, float(np.sqrt(np.dot(wide, wide) / wide.size)),
                      float(max(wide.max(), -wide.min())))
            self._level_cache = cached
        return cached[1], cached[2]

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        if isinstance(stream, PulseReader):
            stream.close()  # the reader frees it after its current read
            return
        try:
            stream.abort()
            stream.close()
        except Exception:  # noqa: BLE001 - closing a vanished device may fail any way
            log.debug("closing the microphone stream failed", exc_info=True)

    def stop(self, timeout: float = 3.0) -> None:
        """Close the stream (a PulseAudio reader gets ``timeout`` to finish its read)."""
        with self._lock:
            self._stop.set()
            stream = self._stream
            self._close_stream()
        if isinstance(stream, PulseReader):
            stream.join(timeout)
