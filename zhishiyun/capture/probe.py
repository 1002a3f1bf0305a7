"""One-shot device probes for the pre-exam checks, the device-test page and the recorder.

``grab_camera_frame`` opens the camera (or a stand-in video file) through the same code as
the recorder; ``record_audio_clip`` records a short clip from a microphone. Both block for
at most their timeout: call them off the UI thread. ``probe_video_encoder`` tells whether an
H.264 encoder (hardware or not) really works here, for
:func:`~zhishiyun.capture.encoder.choose_encoder`.
"""

from __future__ import annotations

import os
import queue
import time
from fractions import Fraction

import numpy as np

from zhishiyun.capture.camera_open import open_capture, parse_camera_spec
from zhishiyun.capture.errors import DeviceError
from zhishiyun.config import RecordingSettings
from zhishiyun.i18n import _

PROBE_SIZE = (640, 480)
PROBE_FRAMES = 3


def grab_camera_frame(spec: int | str | os.PathLike[str] | None = 0,
                      timeout_s: float = 5.0) -> np.ndarray:
    """One BGR frame (H×W×3, uint8) from a camera index or a video file.

    Skips the first frames a camera delivers while it adjusts exposure only when they
    arrive quickly; returns the first frame read that is not empty.

    Raises:
        DeviceError: no camera / unreadable file / no frame within ``timeout_s``.
    """
    capture = open_capture(parse_camera_spec(spec))
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            ok, frame = capture.read()
            if ok and frame is not None and frame.size:
                if frame.ndim == 2:
                    frame = np.stack([frame] * 3, axis=-1)
                return frame
            time.sleep(0.05)
    finally:
        capture.release()
    raise DeviceError(
        _("The camera opened but sent no picture within {seconds:g} s.").format(
            seconds=timeout_s),
        hint=_("Close other programs that use the camera, reconnect it and try again."),
        code="camera_no_frames",
    )


def resolve_microphone(name: str | None) -> int | None:
    """PortAudio input device index for a name (exact, then case-insensitive substring).

    ``None``/empty means the system default (returns ``None``).

    Raises:
        DeviceError: no input device matches the name.
    """
    from zhishiyun.capture.devices import portaudio_microphones

    if not name:
        return None
    mics = portaudio_microphones()
    for mic in mics:
        if mic.name == name:
            return mic.index
    lowered = name.lower()
    for mic in mics:
        if lowered in mic.name.lower():
            return mic.index
    raise DeviceError(
        _("No microphone named {name!r}.").format(name=name),
        hint=_("Available: {names}").format(names=", ".join(m.name for m in mics) or "-"),
        code="microphone_not_found",
    )


def record_audio_clip(device: str | None = None, seconds: float = 2.0,
                      samplerate: int = 16000) -> np.ndarray:
    """Record a mono float32 clip (values in -1…1) of about ``seconds`` from a microphone.

    Through the recorder's own :class:`~zhishiyun.capture.sources.MicrophoneSource`
    (PulseAudio natively on Linux, else PortAudio), so a check hears what a recording would.

    Raises:
        DeviceError: the microphone cannot be opened or delivers nothing.
    """
    from zhishiyun.capture.sources import MicrophoneSource

    mic = MicrophoneSource(device, samplerate)
    mic.open()
    wanted = int(seconds * samplerate)
    parts: list[np.ndarray] = []
    got = 0
    deadline = time.monotonic() + seconds + 3.0
    try:
        while got < wanted and time.monotonic() < deadline:
            try:
                _t, item = mic.queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if item is not None:
                parts.append(item[0])
                got += item[0].size
    finally:
        mic.stop()
    if not parts:
        raise DeviceError(
            _("The microphone sent no sound data."),
            hint=_("Reconnect the microphone, allow microphone access in the system "
                   "privacy settings, and try again."),
            code="microphone_no_data",
        )
    return np.concatenate(parts)[:wanted]


def microphone_error(device: str | None, exc: BaseException) -> DeviceError:
    """The error for a microphone that cannot be opened."""
    return DeviceError(
        _("The microphone {name} cannot be opened: {error}").format(
            name=repr(device) if device else _("(system default)"), error=exc),
        hint=_("Plug the microphone in, allow microphone access in the system privacy "
               "settings, close programs that use it exclusively, then try again."),
        code="microphone_unavailable",
    )


def rms(samples: np.ndarray) -> float:
    """Root-mean-square level of float samples (0…1)."""
    if samples.size == 0:
        return 0.0
    data = samples.astype(np.float64)
    return float(np.sqrt(np.mean(data * data)))


def peak(samples: np.ndarray) -> float:
    """Largest absolute sample value (0…1)."""
    return float(np.max(np.abs(samples))) if samples.size else 0.0


def dbfs(level: float) -> float:
    """A 0…1 level in dB full scale (-120 for silence)."""
    return float(20.0 * np.log10(level)) if level > 1e-6 else -120.0


def probe_picture(width: int, height: int, index: int) -> np.ndarray:
    """A real picture to encode (BGR): gradients and a bright square that moves."""
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([(x * 255 // width), (y * 255 // height),
                      np.full_like(x, 96)], axis=-1).astype(np.uint8)
    left = 40 + 24 * index
    image[60:160, left:left + 100] = 240
    return image


def probe_video_encoder(name: str, settings: RecordingSettings):
    """Try an H.264 encoder: encode real pictures with it, decode them back in software.

    A hardware encoder listed by FFmpeg may still fail here (no such GPU, an old driver,
    a session limit) or produce garbage; only one whose pictures decode to about what was
    given is reported as working. Returns an
    :class:`~zhishiyun.capture.encoder.EncoderProbe`.
    """
    import av

    from zhishiyun.capture.encoder import EncoderProbe, video_bitrate, video_options

    try:
        codec = av.codec.Codec(name, "w")
    except (av.error.FFmpegError, ValueError):
        return EncoderProbe(name, False, detail="not in this build")
    if codec.type != "video":
        return EncoderProbe(name, False, detail="not a video encoder")
    formats = [f.name for f in (codec.video_formats or ())]
    pixel_format = next((f for f in ("yuv420p", "nv12") if f in formats or not formats), "")
    if not pixel_format:
        return EncoderProbe(name, False, detail=f"takes none of yuv420p/nv12 ({formats})")
    width, height = PROBE_SIZE
    try:
        ctx = av.codec.CodecContext.create(codec)
        ctx.width, ctx.height, ctx.pix_fmt = width, height, pixel_format
        ctx.time_base = Fraction(1, 1000)
        ctx.framerate = Fraction(10)
        if name != "libx264":
            ctx.bit_rate = video_bitrate(width, height, 10)
        ctx.options = video_options(name, settings, 10)
        ctx.open()
        pictures = [probe_picture(width, height, i) for i in range(PROBE_FRAMES)]
        packets = []
        for i, picture in enumerate(pictures):
            frame = av.VideoFrame.from_ndarray(picture, format="bgr24").reformat(
                format=pixel_format)
            frame.pts, frame.time_base = i * 100, Fraction(1, 1000)
            if i == 0:
                frame.pict_type = av.video.frame.PictureType.I
            packets += ctx.encode(frame)
        packets += ctx.encode(None)
        if not packets:
            return EncoderProbe(name, False, pixel_format, "no output")
        decoder = av.codec.CodecContext.create("h264", "r")
        decoded = [f for p in packets for f in decoder.decode(p)] + list(decoder.decode(None))
    except Exception as exc:  # noqa: BLE001 - a broken driver may raise anything
        return EncoderProbe(name, False, pixel_format, str(exc)[:200])
    if not decoded:
        return EncoderProbe(name, False, pixel_format, "its output does not decode")
    got = decoded[0].to_ndarray(format="bgr24").astype(np.int16)
    error = float(np.mean(np.abs(got - pictures[0].astype(np.int16))))
    if error > 20:
        return EncoderProbe(name, False, pixel_format, f"garbled output (mean error {error:.0f})")
    return EncoderProbe(name, True, pixel_format)
