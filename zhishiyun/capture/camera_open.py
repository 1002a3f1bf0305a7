"""Opening a camera (by index, with the platform's preferred backend) or a stand-in file.

Used by :class:`~zhishiyun.capture.sources.CameraSource`, the device listing and the
probes, so a video file standing in for the camera goes through the same code path.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from zhishiyun.capture.errors import DeviceError
from zhishiyun.i18n import _

os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
os.environ.setdefault("OPENCV_VIDEOIO_DEBUG", "0")

import cv2  # noqa: E402  (after the log-level environment variables)

CameraSpec = int | Path


def parse_camera_spec(spec: int | str | os.PathLike[str] | None) -> CameraSpec:
    """An ``int`` index for ``"0"``/``0``/empty/None, else the path of a video file.

    Raises:
        DeviceError: the text is neither an index nor an existing file.
    """
    if spec is None or spec == "":
        return 0
    if isinstance(spec, int):
        return spec
    text = str(spec).strip()
    if text.isdigit():
        return int(text)
    path = Path(text).expanduser()
    if not path.is_file():
        raise DeviceError(
            _("Camera {spec!r} is neither a camera number nor a video file.").format(spec=text),
            hint=_("Use 0 for the first camera, or the path of an existing video file."),
            code="camera_not_found",
        )
    return path


def preferred_backends() -> list[int]:
    """OpenCV capture backends to try, best first, for this platform."""
    if sys.platform == "win32":
        return [cv2.CAP_DSHOW, cv2.CAP_MSMF, cv2.CAP_ANY]
    if sys.platform == "darwin":
        return [cv2.CAP_AVFOUNDATION, cv2.CAP_ANY]
    return [cv2.CAP_V4L2, cv2.CAP_ANY]


def backend_name(capture: cv2.VideoCapture) -> str:
    """Name of the backend an open capture uses (e.g. ``V4L2``, ``FFMPEG``)."""
    try:
        return capture.getBackendName()
    except cv2.error:
        return "unknown"


def open_capture(spec: CameraSpec, width: int = 640, height: int = 480,
                 fps: float = 15.0) -> cv2.VideoCapture:
    """Open a camera index or a video file; the result ``isOpened()``.

    Raises:
        DeviceError: with a message a candidate can act on.
    """
    if isinstance(spec, Path):
        capture = cv2.VideoCapture(str(spec))
        if not capture.isOpened():
            capture.release()
            raise DeviceError(
                _("The video file {path} cannot be read as a camera.").format(path=spec),
                hint=_("Check that it is a video file (MP4, MKV, AVI) and not damaged."),
                code="camera_unreadable",
            )
        return capture
    if not _index_may_exist(spec):
        raise camera_missing_error(spec)
    for backend in preferred_backends():
        capture = cv2.VideoCapture(spec, backend)
        if capture.isOpened():
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
            capture.set(cv2.CAP_PROP_FPS, fps)
            return capture
        capture.release()
    raise camera_missing_error(spec)


def camera_missing_error(index: int) -> DeviceError:
    """The error for a camera index that cannot be opened."""
    return DeviceError(
        _("Camera {index} cannot be opened.").format(index=index),
        hint=_("Plug the camera in, close other programs that use it (video calls, "
               "browsers), allow camera access in the system privacy settings, then try "
               "again."),
        code="camera_unavailable",
    )


def _index_may_exist(index: int) -> bool:
    """On Linux skip indexes without a /dev/videoN node (opening them only logs noise)."""
    if sys.platform.startswith("linux"):
        return Path(f"/dev/video{index}").exists()
    return True
