"""Listing cameras, microphones and screens (no Qt; safe to call from any thread).

Each function returns small dataclasses with a ``to_dict()`` for JSON. Cameras come from
OpenCV (names from ``/sys/class/video4linux`` on Linux; other platforms show
"Camera N" since OpenCV has no names), screens from mss, and microphones from where the
recorder reads them: PulseAudio's sources on Linux where libpulse loads and a server answers
(:mod:`~zhishiyun.capture.pulse_devices`), else PortAudio's inputs (sounddevice).
"""

from __future__ import annotations

import logging
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from zhishiyun.capture.device_names import SOURCE_HOST_APIS
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
    """An audio input: a PulseAudio source, or a PortAudio device.

    ``name`` is what the recorder opens and a choice saves (a source name such as
    ``alsa_input.usb-…``, or PortAudio's device name); ``description`` is what a person
    reads (PortAudio's name again for its devices). ``host_api`` is ``PulseAudio`` or
    ``PipeWire`` for a source (whose ``default_samplerate`` is 0: the server converts to
    the rate the recorder asks for); ``portaudio_name`` the name PortAudio gives a source's ALSA
    device, so that a choice saved by an older version still finds it.
    """

    index: int
    name: str
    host_api: str
    channels: int
    default_samplerate: float
    is_default: bool = False
    description: str = ""
    portaudio_name: str = ""

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
    """The microphones the recorder can open, the one it opens by default ``is_default``.

    On Linux where the recorder reads PulseAudio itself (:func:`pulse_input.available
    <zhishiyun.capture.pulse_input.available>`) these are the server's sources; where no
    server answers, or elsewhere, PortAudio's inputs (the recorder's fallback too).

    Raises:
        DeviceError: the sound system (PortAudio) cannot be loaded.
    """
    from zhishiyun.capture import pulse_input
    from zhishiyun.capture.pulse_devices import PulseListError

    if pulse_input.available():
        try:
            return pulse_microphones()
        except PulseListError as exc:
            log.info("PulseAudio sources not listed (%s); listing PortAudio's inputs", exc)
    return portaudio_microphones()


def pulse_microphones() -> list[Microphone]:
    """The sound server's sources, without monitors (see :mod:`.pulse_devices`).

    Raises:
        PulseListError: libpulse cannot be loaded or no server answers.
    """
    from zhishiyun.capture.pulse_devices import list_sources

    sources, default = list_sources()
    return [Microphone(index=s.index, name=s.name, host_api=s.server, channels=s.channels,
                       default_samplerate=0.0, is_default=s.name == default,
                       description=s.description, portaudio_name=s.portaudio_name)
            for s in sources]


def portaudio_microphones() -> list[Microphone]:
    """PortAudio's input devices (its default input marked ``is_default``).

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
            is_default=info["index"] == default_input, description=info["name"],
        ))
    return mics


def is_pulse_source(mic: Microphone) -> bool:
    """Whether ``mic`` was listed from the sound server (not by PortAudio)."""
    return mic.host_api in SOURCE_HOST_APIS


def portaudio_knows(value: str) -> bool:
    """Whether PortAudio lists an input ``value`` names (whole or part of its name).

    As the recorder's PortAudio fallback opens one (:func:`~zhishiyun.capture.probe.
    resolve_microphone`); False when PortAudio cannot be loaded.
    """
    try:
        mics = portaudio_microphones()
    except DeviceError:
        return False
    lowered = value.strip().lower()
    return bool(lowered) and any(lowered in m.name.lower() for m in mics)


def find_microphone(value: str, mics: list[Microphone]) -> Microphone | None:
    """The listed microphone that the device name ``value`` names, or None.

    By its name (what choices save), else its description (what the pickers show); for
    a sound server's sources also the PortAudio name an older version saved for the same
    ALSA device (``"HDA Intel PCH: ALC892 Analog (hw:0,0)"``). A name made unambiguous
    with its host API (``"Mic (Realtek), Windows WASAPI"``) matches by the name before it.
    """
    from zhishiyun.capture.pulse_devices import PulseSource, source_for_portaudio_name

    text = value.strip()
    short = text.rpartition(", ")[0] or text
    for key in (lambda m: m.name, lambda m: m.description):
        for mic in mics:
            if key(mic) and key(mic) in (text, short):
                return mic
    sources = [PulseSource(m.index, m.name, m.description, m.channels, m.host_api,
                           m.portaudio_name)
               for m in mics if m.portaudio_name]
    source = source_for_portaudio_name(text, sources)
    return next((m for m in mics if source is not None and m.name == source.name), None)


def microphone_to_open(value: str | None, mics: list[Microphone] | None = None) -> str | None:
    """The microphone value the recorder should open for a saved or configured ``value``.

    The default (``None``, ``""``, ``"default"``, ``"pulse"``…), ``"none"`` and files are
    kept as they are; a sound server's source named by its description, or by the PortAudio
    name an older version saved, becomes its source name. A PortAudio device, and a device
    not listed, is kept as it is, never dropped: the recorder tries it (PortAudio may still
    know it) and reports it lost if it is gone.
    ``mics``: the listed microphones (listed here when None).
    """
    from zhishiyun.capture.pulse_input import DEFAULT_SOURCE_NAMES

    text = str(value or "").strip()
    if not text or text.lower() in DEFAULT_SOURCE_NAMES | {"none"} or (
            ("/" in text or "\\" in text) and Path(text).expanduser().is_file()):
        return value
    if mics is None:
        try:
            mics = list_microphones()
        except DeviceError:
            return value
    found = find_microphone(text, mics)
    # a PortAudio name stays whole: its host API part picks the device PortAudio opens
    if found is None or found.name == text or not is_pulse_source(found):
        return value
    log.info("microphone %r is listed now as %r (%s)", text, found.name, found.description)
    return found.name


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
