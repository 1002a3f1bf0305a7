"""A webcam's own pixel format: ask for MJPEG or YUYV, convert each frame once.

By default OpenCV decodes or converts every webcam frame to BGR, which the encoder then
converts again to ``yuv420p``: two full-frame passes, the first in a colour space nobody
needs. Here the camera is asked for MJPEG (what most USB webcams send at 640×480 and
above) or YUYV at the track's size, OpenCV is told to hand the frames over as they came
(``CAP_PROP_CONVERT_RGB`` off), and each frame is decoded (MJPEG, FFmpeg's decoder) and
converted (libswscale) straight to the ``yuv420p`` frame the encoder takes.

Backends differ in what they honour: a FOURCC may be ignored, raw frames may not be
offered, or a "raw" frame may still arrive converted. Each step is therefore checked: the
FOURCC read back, the property read back, and the first frame's layout; anything
unexpected falls back to OpenCV's BGR frames, which always work.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

import av
import numpy as np

from zhishiyun.capture.camera_open import cv2

log = logging.getLogger(__name__)

#: Formats asked for, best first: MJPEG is a fifth of YUYV's USB bandwidth, so webcams
#: give full frame rates in it; YUYV is what the others send.
NATIVE_FOURCCS = ("MJPG", "YUYV")
BGR = "BGR"
_JPEG_START = b"\xff\xd8"


class Capture(Protocol):
    """The part of ``cv2.VideoCapture`` the negotiation uses."""

    def set(self, prop: int, value: float) -> bool: ...  # noqa: D102

    def get(self, prop: int) -> float: ...  # noqa: D102


def fourcc_text(value: float) -> str:
    """A FOURCC property value (``CAP_PROP_FOURCC``) as its four characters."""
    code = int(value)
    text = "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4))
    return text if text.isprintable() else ""


def fourcc_value(text: str) -> int:
    """Four characters as a FOURCC property value."""
    return cv2.VideoWriter_fourcc(*text)


def negotiate_format(capture: Capture, width: int, height: int, fps: float,
                     preferred: tuple[str, ...] = NATIVE_FOURCCS) -> str:
    """Ask an open camera for the first of ``preferred`` it delivers raw; else ``BGR``.

    A format counts only when the camera reports it back and raw frames are switched on
    (``CAP_PROP_CONVERT_RGB`` reads back 0). On ``BGR`` the capture is left converting.
    """
    for fourcc in preferred:
        capture.set(cv2.CAP_PROP_FOURCC, fourcc_value(fourcc))
        # the size and rate are asked again: some drivers reset them with the format
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        capture.set(cv2.CAP_PROP_FPS, fps)
        if fourcc_text(capture.get(cv2.CAP_PROP_FOURCC)) != fourcc:
            continue
        if capture.set(cv2.CAP_PROP_CONVERT_RGB, 0) \
                and not capture.get(cv2.CAP_PROP_CONVERT_RGB):
            log.info("camera delivers %s, converted once to yuv420p", fourcc)
            return fourcc
        capture.set(cv2.CAP_PROP_CONVERT_RGB, 1)
        break  # the format is set but only offered converted: OpenCV's BGR then
    capture.set(cv2.CAP_PROP_CONVERT_RGB, 1)
    return BGR


@dataclass
class NativeFrames:
    """Turns a camera's raw frames (``fourcc``) into ``yuv420p`` frames of one size.

    :meth:`convert` returns ``None`` for a frame that is not what the format promised
    (the caller then switches the camera back to BGR).
    """

    fourcc: str
    width: int
    height: int

    def __post_init__(self) -> None:
        self._decoder: Any = None
        if self.fourcc == "MJPG":
            self._decoder = av.codec.CodecContext.create("mjpeg", "r")

    def convert(self, raw: np.ndarray) -> av.VideoFrame | None:
        """One raw frame as a ``yuv420p`` frame of ``width×height``, or ``None``."""
        if self.fourcc == "MJPG":
            frame = self._decode_jpeg(raw)
        elif self.fourcc == "YUYV":
            frame = self._wrap_yuyv(raw)
        else:
            return None
        if frame is None:
            return None
        if (frame.width, frame.height, frame.format.name) != (
                self.width, self.height, "yuv420p"):
            frame = frame.reformat(self.width, self.height, "yuv420p", interpolation="AREA")
        return frame

    def _decode_jpeg(self, raw: np.ndarray) -> av.VideoFrame | None:
        data = raw.reshape(-1)
        if raw.dtype != np.uint8 or raw.ndim > 2 or data[:2].tobytes() != _JPEG_START:
            return None
        try:
            frames = self._decoder.decode(av.Packet(data.tobytes()))
        except av.error.FFmpegError:
            return None
        return frames[-1] if frames else None

    def _wrap_yuyv(self, raw: np.ndarray) -> av.VideoFrame | None:
        if raw.dtype != np.uint8:
            return None
        if raw.ndim == 3 and raw.shape[2] == 2:
            packed = raw
        elif raw.ndim <= 2 and raw.size == self.width * self.height * 2:
            packed = raw.reshape(self.height, self.width, 2)
        else:
            return None
        return av.VideoFrame.from_ndarray(np.ascontiguousarray(packed), format="yuyv422")
