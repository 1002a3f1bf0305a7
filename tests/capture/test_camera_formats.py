"""A webcam's MJPEG or YUYV frames reach the encoder converted once, as yuv420p frames.

There is no webcam (and no v4l2loopback) on the test machines, so the camera's side is
supplied: a capture object answering OpenCV's properties the way a backend does, which
hands out real MJPEG and YUYV frames made here with PyAV and OpenCV. Everything after
``capture.read()`` — negotiation, checks, decoding, conversion, the source's queue — is
the code a real webcam goes through.
"""

from __future__ import annotations

import time
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from zhishiyun.capture import sources
from zhishiyun.capture.camera_formats import (
    BGR,
    NativeFrames,
    fourcc_text,
    fourcc_value,
    negotiate_format,
)
from zhishiyun.capture.sources import CameraSource


def _picture(width: int, height: int) -> av.VideoFrame:
    """A real test picture (FFmpeg's testsrc2) as a yuv420p frame."""
    with av.open(f"testsrc2=size={width}x{height}:rate=15", format="lavfi") as source:
        return next(source.decode(video=0)).reformat(format="yuv420p")


def _mjpeg(picture: av.VideoFrame) -> np.ndarray:
    """The picture as a webcam's MJPEG frame: JPEG bytes, as OpenCV returns them raw."""
    encoder = av.codec.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height, encoder.pix_fmt = picture.width, picture.height, "yuvj422p"
    encoder.time_base = Fraction(1, 15)
    encoder.open()
    [packet] = encoder.encode(picture.reformat(format="yuvj422p"))
    return np.frombuffer(bytes(packet), np.uint8).reshape(1, -1)


def _yuyv(picture: av.VideoFrame) -> np.ndarray:
    """The picture as a webcam's YUYV frame: height×width×2, as OpenCV returns it raw."""
    return picture.reformat(format="yuyv422").to_ndarray()


def _psnr(got: av.VideoFrame, want: av.VideoFrame) -> float:
    a = got.to_ndarray().astype(np.float64)
    b = want.to_ndarray().astype(np.float64)
    mse = float(np.mean((a - b) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255 ** 2 / mse)


class SuppliedCapture:
    """OpenCV's capture properties as a backend answers them, and the frames it gives.

    Args:
        formats: FOURCCs the "camera" accepts; any other keeps the current one.
        raw_allowed: whether ``CAP_PROP_CONVERT_RGB`` can be switched off.
        frames: per FOURCC (or ``BGR`` while converting), the frame ``read`` returns.
    """

    def __init__(self, formats=("MJPG", "YUYV"), raw_allowed=True, frames=None):
        self.formats = formats
        self.raw_allowed = raw_allowed
        self.frames = frames or {}
        self.props = {cv2.CAP_PROP_FOURCC: float(fourcc_value("YUYV")),
                      cv2.CAP_PROP_CONVERT_RGB: 1.0}
        self.sets: list[tuple[int, float]] = []
        self.released = False

    def set(self, prop, value):
        self.sets.append((prop, value))
        if prop == cv2.CAP_PROP_FOURCC:
            if fourcc_text(value) not in self.formats:
                return False
        elif prop == cv2.CAP_PROP_CONVERT_RGB and not value and not self.raw_allowed:
            return False
        self.props[prop] = float(value)
        return True

    def get(self, prop):
        return self.props.get(prop, 0.0)

    def read(self):
        time.sleep(1 / 30)
        converting = self.props[cv2.CAP_PROP_CONVERT_RGB]
        key = BGR if converting else fourcc_text(self.props[cv2.CAP_PROP_FOURCC])
        frame = self.frames.get(key)
        return (frame is not None), frame

    def isOpened(self):  # noqa: N802 - OpenCV's name
        return True

    def getBackendName(self):  # noqa: N802 - OpenCV's name
        return "V4L2"

    def release(self):
        self.released = True


# --- negotiation ---------------------------------------------------------------------


def test_a_camera_that_sends_mjpeg_raw_is_recorded_from_mjpeg():
    capture = SuppliedCapture(formats=("MJPG", "YUYV"))
    assert negotiate_format(capture, 640, 480, 15) == "MJPG"
    assert capture.get(cv2.CAP_PROP_CONVERT_RGB) == 0
    assert (cv2.CAP_PROP_FRAME_WIDTH, 640) in capture.sets  # the size is asked again


def test_a_camera_without_mjpeg_is_recorded_from_yuyv():
    capture = SuppliedCapture(formats=("YUYV",))
    assert negotiate_format(capture, 640, 480, 15) == "YUYV"
    assert capture.get(cv2.CAP_PROP_CONVERT_RGB) == 0


def test_a_backend_that_ignores_the_format_gives_opencv_bgr():
    capture = SuppliedCapture(formats=())
    capture.props[cv2.CAP_PROP_FOURCC] = 0.0  # e.g. DirectShow answers 0
    assert negotiate_format(capture, 640, 480, 15) == BGR
    assert capture.get(cv2.CAP_PROP_CONVERT_RGB) == 1


def test_a_backend_that_only_offers_converted_frames_gives_opencv_bgr():
    capture = SuppliedCapture(formats=("MJPG",), raw_allowed=False)
    assert negotiate_format(capture, 640, 480, 15) == BGR
    assert capture.get(cv2.CAP_PROP_CONVERT_RGB) == 1


# --- conversion ----------------------------------------------------------------------


@pytest.mark.parametrize("size", [(640, 480), (1280, 720)])
def test_mjpeg_frames_become_yuv420p_frames_of_the_track_size(size):
    picture = _picture(*size)
    frame = NativeFrames("MJPG", 640, 480).convert(_mjpeg(picture))
    assert frame is not None
    assert (frame.width, frame.height, frame.format.name) == (640, 480, "yuv420p")
    want = picture.reformat(640, 480, "yuv420p", interpolation="AREA")
    assert _psnr(frame, want) > 25  # JPEG's loss; a wrong or black picture is below 12


def test_yuyv_frames_become_yuv420p_frames():
    picture = _picture(640, 480)
    native = NativeFrames("YUYV", 640, 480)
    for raw in (_yuyv(picture), _yuyv(picture).reshape(1, -1)):  # as OpenCV, or flat
        frame = native.convert(raw)
        assert frame is not None and frame.format.name == "yuv420p"
        assert _psnr(frame, picture) > 40  # only the chroma's vertical halving differs


def test_frames_that_are_not_what_the_format_promised_are_refused():
    bgr = np.zeros((480, 640, 3), np.uint8)  # the backend converted after all
    assert NativeFrames("MJPG", 640, 480).convert(bgr) is None
    assert NativeFrames("MJPG", 640, 480).convert(np.zeros((1, 100), np.uint8)) is None
    assert NativeFrames("YUYV", 640, 480).convert(bgr) is None


# --- through the camera source -------------------------------------------------------


def _run_source(monkeypatch, capture: SuppliedCapture, seconds: float = 0.6):
    monkeypatch.setattr(sources, "open_capture", lambda *args, **kwargs: capture)
    source = CameraSource(0, 640, 480, 15.0, encoder_frames=True)
    source.start()
    time.sleep(seconds)
    source.stop()
    items = []
    while not source.queue.empty():
        items.append(source.queue.get_nowait()[1])
    return source, items


def test_a_webcam_sending_mjpeg_queues_yuv420p_frames_for_the_encoder(monkeypatch):
    picture = _picture(640, 480)
    capture = SuppliedCapture(frames={"MJPG": _mjpeg(picture),
                                      BGR: np.zeros((480, 640, 3), np.uint8)})
    source, items = _run_source(monkeypatch, capture)
    assert source.pixel_format == "MJPG"
    assert items and all(isinstance(item, av.VideoFrame) for item in items)
    assert (items[0].width, items[0].height, items[0].format.name) == (640, 480, "yuv420p")
    assert _psnr(items[0], picture) > 25  # the picture, not the black BGR stand-in


def test_a_webcam_whose_raw_frames_are_not_mjpeg_falls_back_to_bgr(monkeypatch):
    bgr = cv2.cvtColor(_picture(640, 480).to_ndarray(format="bgr24"), cv2.COLOR_BGR2RGB)
    capture = SuppliedCapture(frames={"MJPG": bgr, BGR: bgr})  # claims raw, converts
    source, items = _run_source(monkeypatch, capture)
    assert source.pixel_format == BGR
    assert capture.get(cv2.CAP_PROP_CONVERT_RGB) == 1
    assert items and all(isinstance(item, np.ndarray) and item.shape == (480, 640, 3)
                         for item in items)
