"""H.264 encoder choice and the crash-safe fragmented-MP4 segment writer (PyAV).

Segments are fragmented MP4 (``movflags=frag_every_frame+empty_moov+default_base_moof``,
``flush_packets=1``) with no encoder look-ahead, so a process killed mid-segment leaves a
file that decodes up to its last frame or two. Timestamps are milliseconds (video) and
samples (audio) from the segment's start on the recorder's one monotonic clock.

FFmpeg writes the file itself (its own file protocol: each flushed packet is one
``write`` to the OS, no Python on the way); the track's closer hashes the closed file from
disk, so the manifest's sha256 is of exactly the bytes there. Pictures arrive as
BGR/BGRA arrays (converted here, into a reused buffer) or as ``yuv420p``
:class:`av.VideoFrame` objects at the segment's size (encoded as they are).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from zhishiyun.capture.camera_open import cv2
from zhishiyun.capture.errors import RecordingError
from zhishiyun.config import RecordingSettings
from zhishiyun.i18n import _

log = logging.getLogger(__name__)

MS = Fraction(1, 1000)
FRAGMENTED_MP4 = {
    "movflags": "frag_every_frame+empty_moov+default_base_moof",
    "flush_packets": "1",
    # The muxer holds video until audio with a later timestamp arrives (10 s by default);
    # sound servers may deliver audio seconds late, so write video after 0.1 s regardless.
    "max_interleave_delta": "100000",
}
#: Hardware H.264 encoders per platform, best first: a laptop's integrated GPU (Intel
#: Quick Sync, AMD AMF) before a discrete NVIDIA GPU (NVENC wakes it up, which costs
#: battery), Media Foundation (whichever hardware MFT the driver offers) last.
HARDWARE_ENCODERS = {
    "win32": ("h264_qsv", "h264_amf", "h264_nvenc", "h264_mf"),
    "darwin": ("h264_videotoolbox",),
}
SOFTWARE_ENCODERS = ("libx264", "libopenh264", "h264")
#: Low-latency options for each encoder (no look-ahead, no B-frames).
_LOW_LATENCY = {
    "h264_nvenc": {"preset": "p1", "tune": "ll", "zerolatency": "1", "delay": "0", "bf": "0"},
    "h264_qsv": {"preset": "veryfast", "async_depth": "1", "look_ahead": "0", "bf": "0"},
    "h264_amf": {"usage": "lowlatency", "quality": "speed", "bf": "0"},
    "h264_mf": {"scenario": "display_remoting", "hw_encoding": "1"},
    "h264_videotoolbox": {"realtime": "1", "allow_sw": "0", "bf": "0"},
}
_AUDIO_CODECS = ("aac", "libopus", "opus")
_TO_I420 = {"bgra": cv2.COLOR_BGRA2YUV_I420, "bgr24": cv2.COLOR_BGR2YUV_I420}


@dataclass(frozen=True)
class EncoderChoice:
    """The video and audio encoders picked at start, and why."""

    video: str
    audio: str
    hardware: bool
    tried: tuple[str, ...] = field(default=())
    #: What the video encoder takes (``yuv420p``; Quick Sync only ``nv12``).
    pixel_format: str = "yuv420p"

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready form."""
        return {"video": self.video, "audio": self.audio, "hardware": self.hardware,
                "tried": list(self.tried), "pixel_format": self.pixel_format}


@dataclass(frozen=True)
class EncoderProbe:
    """What trying one video encoder found."""

    name: str
    works: bool
    pixel_format: str = "yuv420p"
    detail: str = ""


def video_options(name: str, settings: RecordingSettings, fps: float) -> dict[str, str]:
    """Encoder options for a track at ``fps`` (keyframes are forced by the caller)."""
    # Keyframes are forced by time (every keyframe_seconds, variable frame rate); the
    # encoder's own frame-counted GOP is set far out so it adds none in between.
    gop = str(max(1, round(fps * max(settings.keyframe_seconds, 60.0))))
    if name == "libx264":
        # one thread per encoder: ~10 % less CPU in total than x264's slice threads, and
        # the screen and camera encoders already run side by side
        return {"preset": settings.x264_preset, "tune": "zerolatency", "crf": str(settings.crf),
                "g": gop, "sc_threshold": "0", "bf": "0", "threads": "1"}
    options = dict(_LOW_LATENCY.get(name, {}))
    options["g"] = gop
    return options


def video_bitrate(width: int, height: int, fps: float) -> int:
    """A bitrate for encoders without CRF: about 0.05 bit per pixel per frame."""
    return int(max(200_000, min(4_000_000, width * height * fps * 0.05)))


def video_candidates(platform: str, allow_hardware: bool = True) -> tuple[list[str], int]:
    """H.264 encoders to try, best first, and how many of them (at the front) are hardware."""
    hardware = list(HARDWARE_ENCODERS.get(platform, ())) if allow_hardware else []
    return hardware + list(SOFTWARE_ENCODERS), len(hardware)


def pick_video_encoder(candidates: list[str], hardware_count: int,
                       probes: Mapping[str, EncoderProbe]) -> tuple[str, str, bool]:
    """The first candidate whose probe worked: ``(name, pixel format, is hardware)``.

    Args:
        candidates: encoder names, best first (see :func:`video_candidates`).
        hardware_count: how many of the first candidates are hardware encoders.
        probes: what probing each candidate found; a candidate without a probe result is
            skipped.

    Raises:
        RecordingError: none of them works.
    """
    for index, name in enumerate(candidates):
        probe = probes.get(name)
        if probe is not None and probe.works:
            return name, probe.pixel_format, index < hardware_count
    raise RecordingError(_("No working H.264 video encoder was found."),
                         hint=_("Reinstall Zhishiyun."), code="no_encoder")


def choose_encoder(settings: RecordingSettings, *, platform: str | None = None,
                   allow_hardware: bool = True,
                   probe: Callable[[str, RecordingSettings], EncoderProbe] | None = None,
                   ) -> EncoderChoice:
    """Probe once: hardware H.264 where present and working, else libx264, else any H.264.

    Candidates are probed best first until one works (each by encoding real pictures and
    decoding the result, :func:`~zhishiyun.capture.probe.probe_video_encoder`).

    Raises:
        RecordingError: no H.264 or no audio encoder works in this build.
    """
    if probe is None:
        from zhishiyun.capture.probe import probe_video_encoder as probe
    candidates, hardware_count = video_candidates(platform or sys.platform, allow_hardware)
    probes: dict[str, EncoderProbe] = {}
    for name in candidates:
        probes[name] = probe(name, settings)
        if probes[name].works:
            break
    video, pixel_format, hardware = pick_video_encoder(candidates, hardware_count, probes)
    audio = next((a for a in _AUDIO_CODECS if _has_encoder(a, "audio")), "")
    if not audio:
        raise RecordingError(_("No working audio encoder was found."),
                             hint=_("Reinstall Zhishiyun."), code="no_encoder")
    tried = tuple(probes)
    choice = EncoderChoice(video, audio, hardware, tried, pixel_format)
    log.info("encoders chosen: video %s (%s, hardware %s; tried %s), audio %s", video,
             pixel_format, hardware, "; ".join(f"{n}: {p.detail or 'ok'}"
                                               for n, p in probes.items()), audio)
    return choice


def _has_encoder(name: str, kind: str) -> bool:
    try:
        return av.codec.Codec(name, "w").type == kind
    except (av.error.FFmpegError, ValueError):
        return False


class BufferPool:
    """Reusable ``yuv420p`` buffers of one size, for frames that travel through a queue.

    A buffer is free again once no frame refers to it any more (a frame made with
    ``from_numpy_buffer`` keeps its array alive), so the pool never hands out memory that
    is still queued, encoded or shown. Without it, every 1080p frame took a fresh 3 MB
    block and the C heap fragmented: resident memory grew by ~10 MB a minute.
    """

    def __init__(self, width: int, height: int) -> None:
        self.shape = (height * 3 // 2, width)
        self._buffers: list[np.ndarray] = []

    def take(self) -> np.ndarray:
        """A buffer nothing else uses (a new one when all are in use)."""
        for buffer in self._buffers:
            # references: the list, the loop variable and getrefcount's argument
            if sys.getrefcount(buffer) <= 3:
                return buffer
        buffer = np.empty(self.shape, np.uint8)
        self._buffers.append(buffer)
        return buffer


def to_yuv420p(image: np.ndarray, pixel_format: str, width: int, height: int,
               pool: BufferPool | None = None) -> av.VideoFrame:
    """A BGR/BGRA array (``pixel_format`` ``bgr24``/``bgra``) as a ``yuv420p`` frame.

    One OpenCV pass (resized first when the size differs) into a buffer from ``pool`` (or
    a new one); the frame's planes are that buffer, not a copy of it.
    """
    if image.shape[1] != width or image.shape[0] != height:
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    if pool is None:
        yuv = cv2.cvtColor(image, _TO_I420[pixel_format])
    else:
        yuv = cv2.cvtColor(image, _TO_I420[pixel_format], dst=pool.take())
    return av.VideoFrame.from_numpy_buffer(yuv, format="yuv420p")


class SegmentFile:
    """One open segment: a fragmented MP4 with a video stream and optionally audio.

    Not thread-safe: one encoder thread owns it. ``add_video(frame_bgr_or_bgra, t_ms)`` and
    ``add_audio(samples)`` append; ``close()`` flushes the encoders and closes the file.
    """

    def __init__(self, path: Path, choice: EncoderChoice, settings: RecordingSettings, *,
                 width: int, height: int, fps: float, with_audio: bool) -> None:
        self.path = path
        self.width, self.height = width, height
        self.video_frames = 0
        self.audio_samples = 0
        self.last_video_ms = -1
        self._last_key_ms: int | None = None
        self._keyframe_ms = int(settings.keyframe_seconds * 1000)
        self._audio_rate = settings.audio_rate
        self._pending_audio = np.zeros(0, np.float32)
        self._last_frame: av.VideoFrame | None = None
        # x264 copies each picture in before encode() returns, so one conversion buffer can
        # be reused; other encoders may hold on to the frame, so they get a fresh one each
        self._reuse_buffer = choice.video == "libx264"
        self._yuv: np.ndarray | None = None
        path.parent.mkdir(parents=True, exist_ok=True)
        # "file:" so that a relative path with a colon is not read as another protocol
        self._container = av.open(f"file:{path}", "w", format="mp4",
                                  container_options=dict(FRAGMENTED_MP4))
        try:
            stream = self._container.add_stream(choice.video, rate=None)
            stream.width, stream.height = width, height
            stream.pix_fmt = choice.pixel_format
            self._pixel_format = choice.pixel_format
            stream.time_base = MS
            stream.codec_context.time_base = MS
            stream.codec_context.framerate = Fraction(fps).limit_denominator(1000)
            if choice.video != "libx264":
                stream.codec_context.bit_rate = video_bitrate(width, height, fps)
            stream.options = video_options(choice.video, settings, fps)
            self._video = stream
            self._audio = None
            if with_audio:
                audio = self._container.add_stream(choice.audio, rate=settings.audio_rate)
                audio.layout = "mono" if settings.audio_channels == 1 else "stereo"
                audio.bit_rate = settings.audio_bitrate
                audio.time_base = Fraction(1, settings.audio_rate)
                self._audio = audio
        except Exception:
            self._container.close()
            raise

    def add_video(self, image: np.ndarray | av.VideoFrame, t_ms: int,
                  pixel_format: str = "bgr24") -> int:
        """Encode one picture at ``t_ms`` (ms from the segment start); returns bytes.

        ``image`` is a BGR/BGRA array (``pixel_format`` ``bgr24``/``bgra``) or a
        ``yuv420p`` video frame of the segment's size. Frames not later than the previous
        one are skipped. A keyframe is forced on the first frame and every
        ``keyframe_seconds``.
        """
        if t_ms <= self.last_video_ms:
            return 0
        if isinstance(image, av.VideoFrame):
            frame = image
            if (frame.width, frame.height, frame.format.name) != (
                    self.width, self.height, "yuv420p"):
                frame = frame.reformat(self.width, self.height, "yuv420p")
        else:
            frame = self._convert(image, pixel_format)
        self._last_frame = frame
        return self._encode_video(frame, t_ms)

    def _convert(self, image: np.ndarray, pixel_format: str) -> av.VideoFrame:
        """BGR/BGRA → ``yuv420p`` with one pass and no further copy.

        Measured at 1920×1080 BGRA here: OpenCV's BT.601 conversion 0.8 ms of CPU, swscale
        (``VideoFrame.reformat``) 3.1 ms, so OpenCV converts; the result is wrapped as the
        frame's planes without a copy (``from_numpy_buffer``).
        """
        if not self._reuse_buffer:
            return to_yuv420p(image, pixel_format, self.width, self.height)
        if image.shape[1] != self.width or image.shape[0] != self.height:
            image = cv2.resize(image, (self.width, self.height), interpolation=cv2.INTER_AREA)
        if self._yuv is None:
            self._yuv = np.empty((self.height * 3 // 2, self.width), np.uint8)
        cv2.cvtColor(image, _TO_I420[pixel_format], dst=self._yuv)
        return av.VideoFrame.from_numpy_buffer(self._yuv, format="yuv420p")

    def repeat_last(self, t_ms: int) -> int:
        """Encode the previous picture again at ``t_ms`` (no conversion); 0 if none yet."""
        if self._last_frame is None or t_ms <= self.last_video_ms:
            return 0
        return self._encode_video(self._last_frame, t_ms)

    def _encode_video(self, frame: av.VideoFrame, t_ms: int) -> int:
        if frame.format.name != self._pixel_format:  # e.g. nv12 for Quick Sync
            frame = frame.reformat(format=self._pixel_format)
        frame.pts = t_ms
        frame.time_base = MS
        if self._last_key_ms is None or t_ms - self._last_key_ms >= self._keyframe_ms:
            frame.pict_type = av.video.frame.PictureType.I
            self._last_key_ms = t_ms
        else:
            frame.pict_type = av.video.frame.PictureType.NONE
        written = 0
        for packet in self._video.encode(frame):
            written += packet.size
            self._container.mux(packet)
        self.video_frames += 1
        self.last_video_ms = t_ms
        return written

    @property
    def audio_written(self) -> int:
        """Audio samples taken so far (encoded plus waiting for a full frame)."""
        return self.audio_samples + self._pending_audio.size

    def add_audio(self, samples: np.ndarray) -> None:
        """Append mono float32 samples that continue the segment's audio timeline."""
        if self._audio is None or samples.size == 0:
            return
        data = np.concatenate([self._pending_audio, samples.astype(np.float32, copy=False)])
        size = self._audio.codec_context.frame_size or 1024
        usable = data.size - data.size % size
        for start in range(0, usable, size):
            self._encode_audio(data[start:start + size])
        self._pending_audio = data[usable:]

    def _encode_audio(self, chunk: np.ndarray) -> None:
        frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = self._audio_rate
        frame.pts = self.audio_samples
        frame.time_base = Fraction(1, self._audio_rate)
        for packet in self._audio.encode(frame):
            self._container.mux(packet)
        self.audio_samples += chunk.size

    def close(self) -> None:
        """Flush encoders (the last partial audio frame is padded with silence) and close.

        The caller fsyncs and hashes the file
        (:func:`~zhishiyun.capture.manifest.fsync_path`, ``sha256_file``) where it can
        afford to wait.
        """
        try:
            if self._audio is not None:
                if self._pending_audio.size:
                    size = self._audio.codec_context.frame_size or 1024
                    pad = np.zeros(size - self._pending_audio.size, np.float32)
                    self._encode_audio(np.concatenate([self._pending_audio, pad]))
                    self._pending_audio = np.zeros(0, np.float32)
                for packet in self._audio.encode(None):
                    self._container.mux(packet)
            for packet in self._video.encode(None):
                self._container.mux(packet)
        finally:
            self._container.close()
        self._last_frame = None
