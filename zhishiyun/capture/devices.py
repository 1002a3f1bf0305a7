"""Listing cameras, microphones and screens (no Qt; safe to call from any thread).

Each function returns small dataclasses with a ``to_dict()`` for JSON. Cameras come from
OpenCV (names from ``/sys/class/video4linux`` on Linux; other platforms show
"Camera N" since OpenCV has no names), microphones from PortAudio (sounddevice) and screens
from mss.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from zhishiyun.capture.errors import DeviceError
from zhishiyun.i18n import _

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Camera:
    """A camera OpenCV can open, with what it delivered when probed."""

    index: int
    name: str
    backend: str = ""
    width: int = 0
    height: int = 0
    fps: float = 0.0
    capabilities: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return asdict(self)


@dataclass(frozen=True)
class Microphone:
    """An audio input device as PortAudio reports it."""

    index: int
    name: str
    host_api: str
    channels: int
    default_samplerate: float
    is_default: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return asdict(self)


@dataclass(frozen=True)
class Screen:
    """A monitor; ``index`` is mss's monitor number (1 = first monitor)."""

    index: int
    name: str
    left: int
    top: int
    width: int
    height: int
    is_primary: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return asdict(self)


def _linux_camera_name(index: int) -> str:
    try:
        return Path(f"/sys/class/video4linux/video{index}/name").read_text().strip()
    except OSError:
        return ""


def list_cameras(max_index: int = 6, *, probe: bool = True) -> list[Camera]:
    """Cameras that open, with resolution/fps; ``probe=False`` skips opening (Linux only).

    Opening a camera can take a second on Windows; call this off the UI thread.
    """
    from zhishiyun.capture.camera_open import backend_name, cv2, open_capture

    cameras: list[Camera] = []
    for index in range(max_index):
        if sys.platform.startswith("linux"):
            if not Path(f"/dev/video{index}").exists():
                continue
            if not probe:
                cameras.append(Camera(index, _linux_camera_name(index) or f"Camera {index}"))
                continue
        try:
            capture = open_capture(index)
        except DeviceError:
            continue
        try:
            ok, frame = capture.read()
            if not ok or frame is None:
                continue
            height, width = frame.shape[:2]
            fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
            name = _linux_camera_name(index) or f"Camera {index}"
            cameras.append(Camera(index, name, backend_name(capture), width, height, fps,
                                  {"channels": int(frame.shape[2]) if frame.ndim == 3 else 1}))
        finally:
            capture.release()
    return cameras


def _sounddevice():
    try:
        import sounddevice
    except OSError as exc:  # PortAudio library missing
        raise DeviceError(
            _("The sound system cannot be used: {error}").format(error=exc),
            hint=_("Reinstall Zhishiyun or install PortAudio."),
            code="audio_unavailable",
        ) from None
    return sounddevice


def list_microphones() -> list[Microphone]:
    """Audio input devices (PortAudio's default input marked ``is_default``).

    Raises:
        DeviceError: the sound system (PortAudio) cannot be loaded.
    """
    sd = _sounddevice()
    try:
        devices = sd.query_devices()
        host_apis = sd.query_hostapis()
    except sd.PortAudioError as exc:
        raise DeviceError(_("The sound system cannot list devices: {error}").format(error=exc),
                          code="audio_unavailable") from None
    try:
        default_input = sd.default.device[0]
    except (TypeError, IndexError):
        default_input = -1
    if default_input is None or default_input < 0:
        try:
            default_input = sd.query_devices(kind="input")["index"]
        except (sd.PortAudioError, KeyError, ValueError):
            default_input = -1
    mics = []
    for info in devices:
        if info["max_input_channels"] <= 0:
            continue
        mics.append(Microphone(
            index=info["index"], name=info["name"],
            host_api=host_apis[info["hostapi"]]["name"],
            channels=info["max_input_channels"],
            default_samplerate=float(info["default_samplerate"]),
            is_default=info["index"] == default_input,
        ))
    return mics


def mss_instance():
    """A new mss screen grabber (``mss.MSS`` on mss ≥ 10, ``mss.mss`` before)."""
    import mss

    factory = getattr(mss, "MSS", None) or mss.mss
    try:
        return factory()
    except Exception as exc:  # mss raises ScreenShotError and others without a display
        raise DeviceError(
            _("The screen cannot be captured: {error}").format(error=exc),
            hint=_("Log in to a desktop session; screen capture needs a display."),
            code="display_unavailable",
        ) from None


def list_screens() -> list[Screen]:
    """Monitors, in mss order (index 1 first).

    Raises:
        DeviceError: there is no display to capture.
    """
    with mss_instance() as grabber:
        monitors = list(grabber.monitors)
    screens = []
    has_primary = any(m.get("is_primary") for m in monitors[1:])
    for index, mon in enumerate(monitors[1:], start=1):
        primary = bool(mon.get("is_primary")) if has_primary else index == 1
        name = str(mon.get("output") or mon.get("name") or f"Screen {index}")
        screens.append(Screen(index, name, int(mon["left"]), int(mon["top"]),
                              int(mon["width"]), int(mon["height"]), primary))
    return screens


def primary_screen_index(screens: list[Screen]) -> int:
    """The mss monitor number of the primary screen (1 when none says so)."""
    for screen in screens:
        if screen.is_primary:
            return screen.index
    return 1
