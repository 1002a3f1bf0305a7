"""The recorder: sources → tracks → segments + manifest, with recovery and watchdogs.

Threads: one per source (``capture-screen``, ``capture-camera``; the microphone's PortAudio
callback thread), an encoder and a closer thread per track (``encode-<track>``,
``close-<track>``) and a watchdog (``recorder-watch``: disk space, microphone stalls).
``start``/``stop`` may be called from any thread except the recorder's own; ``start`` takes
about a second (encoder probe, opening devices), ``stop`` waits for late audio (up to ~2 s
with PulseAudio) and closes the open segments, so call both off the UI thread.

Callbacks (exceptions in them are logged and swallowed):

- ``segment_did_close(ClosedSegment)`` fires on the closer thread of the segment's track
  (``close-screen``, ``close-camera``; segments of a track in order) right after the file
  is fsynced and its manifest line written; for recovered segments it fires on the thread
  calling :meth:`Recorder.start`. Keep it short (enqueue and return).
- ``event_did_occur(RecorderEvent)`` fires on whichever recorder thread saw the event.
  Kinds: ``device_lost``, ``device_restored``, ``disk_low``, ``disk_full``,
  ``segment_recovered``, ``segment_unreadable``, ``track_failed``, ``stopped``.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from zhishiyun.capture.camera_open import parse_camera_spec
from zhishiyun.capture.context import Timeline, TrackContext
from zhishiyun.capture.encoder import EncoderChoice, choose_encoder
from zhishiyun.capture.errors import RecordingError
from zhishiyun.capture.manifest import MANIFEST_NAME, ManifestWriter, format_time
from zhishiyun.capture.memory import map_large_blocks, no_huge_pages
from zhishiyun.capture.recovery import ClosedSegment, RecoveryReport, next_seq, recover_session
from zhishiyun.capture.screen import ScreenSource
from zhishiyun.capture.sources import (
    CameraSource,
    MicrophoneSource,
    Source,
    clock,
)
from zhishiyun.capture.tracks import GRACE, Track
from zhishiyun.config import RecordingSettings
from zhishiyun.i18n import _

log = logging.getLogger(__name__)

GB = 1024 ** 3
WATCH_SECONDS = 0.5
DISK_EVERY_SECONDS = 2.0


@dataclass(frozen=True)
class RecorderEvent:
    """Something the exam window or the proctoring event log should know."""

    kind: str
    source: str
    detail: str
    at: str

    def to_dict(self) -> dict[str, str]:
        """Plain JSON-ready form."""
        return {"kind": self.kind, "source": self.source, "detail": self.detail, "at": self.at}


def scaled_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """Fit ``width×height`` so the longest side ≤ ``max_side``; both even (yuv420p)."""
    scale = min(1.0, max_side / max(width, height))
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def _local_now() -> datetime:
    return datetime.now().astimezone()


class Recorder:
    """Records a session's ``screen`` and ``camera`` tracks into ``session_dir``.

    Args:
        session_dir: ``<data>/sessions/<sid>/``; segments go to ``<track>/<seq>.mp4``.
        session_key: the key for the manifest HMAC (kept in memory only).
        settings: recording settings (server ``/config`` merged over the defaults).
        first_seq: seq of the first new segment; ``None`` continues after the files
            already in ``session_dir`` (resume after a crash).
        screen: ``True`` for the primary monitor, an mss monitor number, or ``False``.
        camera: camera index, video file path (stand-in), or ``None`` for no camera.
        microphone: device name, ``None``/"" for the default, or ``"none"`` for no audio.
        now_server: the clock for manifest ``start`` times (server time, tz-aware).
        segment_did_close: see the module docstring.
        event_did_occur: see the module docstring.
        encoder: a choice made earlier (skips probing).
    """

    def __init__(
        self,
        session_dir: str | Path,
        session_key: bytes | str,
        settings: RecordingSettings | None = None,
        *,
        first_seq: int | None = None,
        screen: bool | int = True,
        camera: int | str | Path | None = 0,
        microphone: str | None = None,
        now_server: Callable[[], datetime] = _local_now,
        segment_did_close: Callable[[ClosedSegment], None] | None = None,
        event_did_occur: Callable[[RecorderEvent], None] | None = None,
        encoder: EncoderChoice | None = None,
    ) -> None:
        self.session_dir = Path(session_dir)
        self.settings = settings or RecordingSettings()
        self.now_server = now_server
        self._key = session_key
        self._requested_first_seq = first_seq
        self._screen_choice = screen
        self._camera_spec = None if camera is None else parse_camera_spec(camera)
        self._mic_name = microphone
        self._segment_did_close = segment_did_close
        self._event_did_occur = event_did_occur
        self.encoder: EncoderChoice = encoder  # type: ignore[assignment]
        self.first_seq = 0
        self.timeline = Timeline()
        self.stop_reason = ""
        self.events: list[RecorderEvent] = []
        self.recovery = RecoveryReport()
        self.manifest: ManifestWriter | None = None  # type: ignore[assignment]
        self.sources: dict[str, Source] = {}
        self.tracks: list[Track] = []
        self._stopped = threading.Event()
        self._stop_lock = threading.Lock()
        self._started = False
        self._watch: threading.Thread | None = None
        self._disk_warned = False

    # --- public API -----------------------------------------------------------------------

    @property
    def t0(self) -> float:
        """Monotonic time at which segment 0 starts (0 before :meth:`start`)."""
        return self.timeline.t0

    @property
    def stop_t(self) -> float | None:
        """Monotonic time of the requested stop, ``None`` while recording."""
        return self.timeline.stop_t

    @property
    def running(self) -> bool:
        """Started and not yet stopped."""
        return self._started and not self._stopped.is_set()

    def start(self) -> None:
        """Recover what a crash left open, pick the encoder, start every source and track.

        Raises:
            RecordingError: too little disk space, no encoder, or the output is unusable.
            DeviceError: the screen cannot be captured (camera and microphone problems
                are reported as ``device_lost`` events and retried instead).
        """
        if self._started:
            raise RecordingError("recorder already started", code="already_started")
        try:
            self.session_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RecordingError(
                _("Cannot create the recording folder {path}: {error}").format(
                    path=self.session_dir, error=exc.strerror or exc),
                code="output_unusable") from None
        free = shutil.disk_usage(self.session_dir).free
        if free < self.settings.disk_floor_gb * GB:
            raise RecordingError(
                _("Only {free:.1f} GB free on the recording disk; at least {need:.1f} GB is "
                  "needed.").format(free=free / GB, need=self.settings.disk_floor_gb),
                hint=_("Free some disk space and try again."), code="disk_full")
        self.recover()
        map_large_blocks()
        no_huge_pages()
        if self.encoder is None:
            self.encoder = choose_encoder(self.settings)
        self.first_seq = (next_seq(self.session_dir) if self._requested_first_seq is None
                          else self._requested_first_seq)
        self._build()  # checks the screen before anything is written
        self.manifest = ManifestWriter(self.session_dir / MANIFEST_NAME, self._key)
        context = TrackContext(
            session_dir=self.session_dir, settings=self.settings, encoder=self.encoder,
            first_seq=self.first_seq, timeline=self.timeline, manifest=self.manifest,
            now_server=self.now_server, emit=self._emit, request_stop=self._request_stop,
            segment_closed=self._segment_closed)
        try:
            self.timeline.t0 = clock()
            for track in self.tracks:
                track.start(context)
        except BaseException:
            self._abandon_start()
            raise
        self._started = True
        for source in self.sources.values():
            source.start()
        self._watch = threading.Thread(target=self._watch_loop, name="recorder-watch",
                                       daemon=True)
        self._watch.start()
        log.info("recording started in %s from seq %d (encoder %s)", self.session_dir,
                 self.first_seq, self.encoder.video)

    def _abandon_start(self) -> None:
        """Undo a start that failed half-way (tracks already running are closed)."""
        self.timeline.stop_t = clock()
        self.timeline.finish()
        for track in self.tracks:
            track.join(10)
        self.manifest.close()

    def recover(self) -> RecoveryReport:
        """Close segments a crash left open in ``session_dir`` (also run by ``start``)."""
        report = recover_session(self.session_dir, self._key)
        for segment in report.recovered:
            self.recovery.recovered.append(segment)
            self._emit("segment_recovered", segment.track,
                       f"seq {segment.seq}, {segment.duration_ms} ms")
            self._segment_closed(segment)
        for item in report.unreadable:
            self.recovery.unreadable.append(item)
            self._emit("segment_unreadable", "recovery", item["path"])
        return report

    def stop(self, reason: str = "stopped", timeout: float = 30.0) -> dict[str, Any]:
        """Stop sources, close the open segments (manifest lines written), return a summary.

        Idempotent; a second call returns the same summary.
        """
        with self._stop_lock:
            if not self._started:
                return self.summary()
            if self.timeline.stop_t is None:
                self.timeline.stop_t = clock()
                self.stop_reason = reason
                # let in-flight frames, then (possibly long-buffered) audio reach the queues
                time.sleep(GRACE)
                for name, source in self.sources.items():
                    if name != "microphone":
                        source.stop()
                time.sleep(max([0.0] + [t.grace - GRACE for t in self.tracks]))
                for source in self.sources.values():
                    source.stop()
                self.timeline.finish()
                for track in self.tracks:
                    track.join(timeout)
                if self.manifest is not None:
                    self.manifest.close()
                self._stopped.set()
                self._emit("stopped", "recorder", reason)
                log.info("recording stopped (%s)", reason)
            return self.summary()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the recorder has stopped (True) or ``timeout`` passed (False)."""
        return self._stopped.wait(timeout)

    def latest_frame(self, track: str = "camera"):
        """The newest picture a track encoded (BGR/BGRA ``ndarray``), or ``None``.

        For previews; the array must not be modified.
        """
        for item in self.tracks:
            if item.name == track:
                return item.last_image
        return None

    def audio_level(self) -> tuple[float, float]:
        """Latest microphone RMS and peak (0…1), for meters."""
        mic = self.sources.get("microphone")
        if isinstance(mic, MicrophoneSource):
            return mic.level_rms, mic.level_peak
        return 0.0, 0.0

    def summary(self) -> dict[str, Any]:
        """Counters, segments and events so far (JSON-ready)."""
        tracks = {}
        segments = []
        for track in self.tracks:
            segments += [s.to_dict() for s in track.closed]
            tracks[track.name] = {
                "segments": len(track.closed),
                "bytes": sum(s.bytes for s in track.closed),
                "duration_ms": sum(s.duration_ms for s in track.closed),
                "frames_encoded": track.encoded_frames,
                "heartbeat_frames": track.heartbeat_frames,
                "size": list(track.size),
                "cpu_seconds": round(sum(track.cpu_seconds.values()) + sum(
                    s.cpu_seconds for s in (track.video, track.microphone) if s), 3),
            }
            if track.microphone is not None:
                tracks[track.name]["audio_seconds"] = round(
                    track.audio_samples / track.microphone.rate, 3)
                tracks[track.name]["audio_resyncs"] = track.audio_resyncs
        sources = {name: s.counters.to_dict() | {"lost": s.lost,
                                                 "cpu_seconds": round(s.cpu_seconds, 3)}
                   for name, s in self.sources.items()}
        for name, source in self.sources.items():  # which grabber / camera format was used
            for key in ("backend", "pixel_format"):
                if getattr(source, key, ""):
                    sources[name][key] = getattr(source, key)
        mic = self.sources.get("microphone")
        if isinstance(mic, MicrophoneSource):
            sources["microphone"].update(rms=round(mic.level_rms, 4),
                                         peak=round(mic.level_peak, 4),
                                         overflows=mic.overflows)
        return {
            "session_dir": str(self.session_dir),
            "encoder": self.encoder.to_dict() if self.encoder else None,
            "first_seq": self.first_seq,
            "seconds": round((self.stop_t or clock()) - self.t0, 3) if self._started else 0,
            "stop_reason": self.stop_reason,
            "bytes": sum(s["bytes"] for s in segments),
            "segments": segments,
            "tracks": tracks,
            "sources": sources,
            "recovered": [s.to_dict() for s in self.recovery.recovered],
            "unreadable": list(self.recovery.unreadable),
            "events": [e.to_dict() for e in self.events],
        }

    # --- internals ------------------------------------------------------------------------

    def _build(self) -> None:
        s = self.settings
        emit = self._emit
        if self._screen_choice is not False:
            from zhishiyun.capture.devices import list_screens, primary_screen_index

            monitor = (primary_screen_index(list_screens()) if self._screen_choice is True
                       else int(self._screen_choice))
            screen = ScreenSource(monitor, s.screen_fps, s.screen_drop_duplicates, emit)
            screen.open()
            self.sources["screen"] = screen
            size = scaled_size(*screen.size, s.screen_max_side)
            screen.encoder_size = size
            self.tracks.append(Track("screen", screen, size, s.screen_fps, "bgra"))
        camera = None
        if self._camera_spec is not None:
            camera = CameraSource(self._camera_spec, s.camera_width, s.camera_height,
                                  s.camera_fps, emit, encoder_frames=True)
            self.sources["camera"] = camera
        mic = None
        if (self._mic_name or "").lower() != "none":
            mic = MicrophoneSource(self._mic_name or None, s.audio_rate, s.audio_channels, emit)
            self.sources["microphone"] = mic
        size = scaled_size(s.camera_width, s.camera_height, max(s.camera_width,
                                                                s.camera_height))
        self.tracks.append(Track("camera", camera, size, s.camera_fps, "bgr24", mic))

    def _watch_loop(self) -> None:
        next_disk = 0.0
        while not self.timeline.wait_finishing(WATCH_SECONDS):
            if self.stop_t is not None:
                return
            mic = self.sources.get("microphone")
            if isinstance(mic, MicrophoneSource):
                mic.check()
            if clock() >= next_disk:
                next_disk = clock() + DISK_EVERY_SECONDS
                self._check_disk()

    def _check_disk(self) -> None:
        try:
            free = shutil.disk_usage(self.session_dir).free
        except OSError as exc:
            log.warning("cannot read free disk space: %s", exc)
            return
        detail = f"{free / GB:.2f} GB free"
        if free < self.settings.disk_floor_gb * GB:
            self._emit("disk_full", "disk", detail)
            self._request_stop("disk_full")
        elif free < self.settings.disk_warn_gb * GB:
            if not self._disk_warned:
                self._disk_warned = True
                self._emit("disk_low", "disk", detail)
        elif free > self.settings.disk_warn_gb * GB * 1.1:
            self._disk_warned = False

    def _request_stop(self, reason: str) -> None:
        """Stop from a recorder thread without waiting for itself."""
        if self.stop_t is None:
            threading.Thread(target=self.stop, args=(reason,), name="recorder-stop",
                             daemon=True).start()

    def _emit(self, kind: str, source: str, detail: str = "") -> None:
        try:
            at = format_time(self.now_server())
        except Exception:  # noqa: BLE001 - a broken clock must not stop recording
            at = format_time(_local_now())
        event = RecorderEvent(kind, source, detail, at)
        self.events.append(event)
        if self._event_did_occur is not None:
            try:
                self._event_did_occur(event)
            except Exception:  # noqa: BLE001
                log.exception("event_did_occur callback failed")

    def _segment_closed(self, segment: ClosedSegment) -> None:
        if self._segment_did_close is not None:
            try:
                self._segment_did_close(segment)
            except Exception:  # noqa: BLE001
                log.exception("segment_did_close callback failed")
