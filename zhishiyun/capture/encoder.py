"""H.264 encoder choice and the crash-safe fragmented-MP4 segment writer (PyAV).

Segments are fragmented MP4 (``movflags=frag_every_frame+empty_moov+default_base_moof``,
``flush_packets=1``) with no encoder look-ahead, so a process killed mid-segment leaves a
file that decodes up to its last frame or two. Timestamps are milliseconds (video) and
samples (audio) from the segment's start on the recorder's one monotonic clock.

The muxer writes through a :class:`~zhishiyun.capture.hashing.HashingFile`, so the
segment's sha256 is known when it closes (no second read of the file). Pictures arrive as
BGR/BGRA arrays (converted here, into a reused buffer) or as ``yuv420p``
:class:`av.VideoFrame` objects at the segment's size (encoded as they are).
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from zhishiyun.capture.camera_open import cv2
from zhishiyun.capture.errors import RecordingError
from zhishiyun.capture.hashing import HashingFile
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
HARDWARE_ENCODERS = {
    "win32": ("h264_nvenc", "h264_qsv", "h264_amf", "h264_mf"),
    "darwin": ("h264_videotoolbox",),
}
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

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready form."""
        return {"video": self.video, "audio": self.audio, "hardware": self.hardware,
                "tried": list(self.tried)}


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


def _video_bitrate(width: int, height: int, fps: float) -> int:
    """A bitrate for encoders without CRF: about 0.05 bit per pixel per frame."""
    return int(max(200_000, min(4_000_000, width * height * fps * 0.05)))


def _try_video(name: str, settings: RecordingSettings) -> bool:
    try:
        codec = av.codec.Codec(name, "w")
    except (av.error.FFmpegError, ValueError):
        return False
    if codec.type != "video":
        return False
    try:
        ctx = av.codec.CodecContext.create(codec)
        ctx.width, ctx.height, ctx.pix_fmt = 320, 240, "yuv420p"
        ctx.time_base = MS
        ctx.framerate = Fraction(10)
        if name != "libx264":
            ctx.bit_rate = _video_bitrate(320, 240, 10)
        ctx.options = video_options(name, settings, 10)
        ctx.open()
        frame = av.VideoFrame.from_ndarray(np.zeros((240, 320, 3), np.uint8), format="rgb24")
        frame = frame.reformat(format="yuv420p")
        packets = []
        for i in range(3):
            frame.pts = i * 100
            packets += ctx.encode(frame)
        packets += ctx.encode(None)
        return bool(packets)
    except Exception as exc:  # noqa: BLE001 - a broken driver may raise anything
        log.info("encoder %s does not work here: %s", name, exc)
        return False


def choose_encoder(settings: RecordingSettings, *, platform: str | None = None,
                   allow_hardware: bool = True) -> EncoderChoice:
    """Probe once: hardware H.264 where present and working, else libx264, else any H.264.

    Raises:
        RecordingError: no H.264 or no audio encoder works in this build.
    """
    platform = platform or sys.platform
    candidates = list(HARDWARE_ENCODERS.get(platform, ())) if allow_hardware else []
    hardware_count = len(candidates)
    candidates += ["libx264", "libopenh264", "h264"]
    tried = []
    video = ""
    for index, name in enumerate(candidates):
        tried.append(name)
        if _try_video(name, settings):
            video = name
            hardware = index < hardware_count
            break
    if not video:
        raise RecordingError(_("No working H.264 video encoder was found."),
                             hint=_("Reinstall Zhishiyun."), code="no_encoder")
    audio = next((a for a in _AUDIO_CODECS if _has_encoder(a, "audio")), "")
    if not audio:
        raise RecordingError(_("No working audio encoder was found."),
                             hint=_("Reinstall Zhishiyun."), code="no_encoder")
    choice = EncoderChoice(video, audio, hardware, tuple(tried))
    log.info("encoders chosen: video %s (hardware %s, tried %s), audio %s",
             video, hardware, ", ".join(tried), audio)
    return choice


def _has_encoder(name: str, kind: str) -> bool:
    try:
        return av.codec.Codec(name, "w").type == kind
    except (av.error.FFmpegError, ValueError):
        return False


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
        self.sha256 = ""
        self.bytes = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = HashingFile(path)
        try:
            self._container = av.open(self._file, "w", format="mp4",
                                      container_options=dict(FRAGMENTED_MP4))
        except Exception:
            self._file.close()
            raise
        try:
            stream = self._container.add_stream(choice.video, rate=None)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.time_base = MS
            stream.codec_context.time_base = MS
            stream.codec_context.framerate = Fraction(fps).limit_denominator(1000)
            if choice.video != "libx264":
                stream.codec_context.bit_rate = _video_bitrate(width, height, fps)
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
            self._file.close()
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
        if image.shape[1] != self.width or image.shape[0] != self.height:
            image = cv2.resize(image, (self.width, self.height), interpolation=cv2.INTER_AREA)
        shape = (self.height * 3 // 2, self.width)
        if self._reuse_buffer and self._yuv is not None:
            yuv = cv2.cvtColor(image, _TO_I420[pixel_format], dst=self._yuv)
        else:
            yuv = cv2.cvtColor(image, _TO_I420[pixel_format])
            if self._reuse_buffer and yuv.shape == shape:
                self._yuv = yuv
        return av.VideoFrame.from_numpy_buffer(yuv, format="yuv420p")

    def repeat_last(self, t_ms: int) -> int:
        """Encode the previous picture again at ``t_ms`` (no conversion); 0 if none yet."""
        if self._last_frame is None or t_ms <= self.last_video_ms:
            return 0
        return self._encode_video(self._last_frame, t_ms)

    def _encode_video(self, frame: av.VideoFrame, t_ms: int) -> int:
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

        Afterwards ``sha256`` and ``bytes`` describe the file (``sha256`` is empty when the
        muxer rewrote earlier bytes: hash the file then). The caller fsyncs
        (:func:`~zhishiyun.capture.manifest.fsync_path`) where it can afford to wait.
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
            try:
                self._container.close()
            finally:
                self._file.close()
        self.bytes = self._file.size
        self.sha256 = self._file.digest() or ""
        self._last_frame = None
