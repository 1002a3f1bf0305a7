"""One name per device, wherever a camera or microphone is shown or reported.

PortAudio lists one microphone several times: once per host API on Windows (MME cuts the
name at 31 characters), and as the ``default``/``sysdefault`` aliases on Linux; a sound
server's source has a name for the recorder and a description for people. The check
page, the device test, the exam's confirmation card and the environment report all name
devices through :func:`microphone_name` and list them through :func:`microphone_choices`,
so a candidate sees the same name for the same microphone on every screen.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from zhishiyun.i18n import _

#: PortAudio names that stand for the system's default input rather than a device.
DEFAULT_ALIASES = frozenset({"default", "sysdefault", "microsoft sound mapper - input",
                             "primary sound capture driver"})
#: MME truncates device names to this many characters.
MME_NAME_LENGTH = 31
#: Names PortAudio gives sound servers, as people know them.
SOUND_SERVERS = {"pulse": "PulseAudio", "pipewire": "PipeWire", "jack": "JACK"}
#: ``host_api`` of a microphone listed from the sound server (a source, not a PortAudio device).
SOURCE_HOST_APIS = ("PulseAudio", "PipeWire")


def _is_file(value: str) -> bool:
    return "/" in value or "\\" in value


def microphone_name(value: str | None, mics: Iterable[Any] = ()) -> str:
    """The name a candidate sees for the microphone ``value`` (a setting or choice value).

    ``None``, ``""`` and the default aliases are the system default; ``"none"`` is no
    microphone; a file stands in by its file name; a sound server's source among ``mics``
    (the listed microphones) by its description; a value made unambiguous with its host
    API (``"Mic (Realtek), Windows WASAPI"``) is shown without it.
    """
    text = str(value or "").strip()
    for mic in mics:
        if _field(mic, "name") == text and _is_source(mic):
            return _description(mic)
    if not text or text.lower() in DEFAULT_ALIASES:
        return _("System default")
    if text.lower() == "none":
        return _("No microphone")
    if _is_file(text):
        return Path(text).name
    if text.lower() in SOUND_SERVERS:
        return SOUND_SERVERS[text.lower()]
    name, sep, _host = text.rpartition(", ")
    return name if sep and name else text


def microphone_choices(mics: Iterable[Any]) -> list[tuple[str, str | None]]:
    """``(name, value)`` pairs for a microphone picker: the system default, then each device.

    ``mics`` are :class:`~zhishiyun.capture.devices.Microphone` objects (or dicts with
    ``name`` and ``host_api``). A sound server's source is shown by its description (with
    its name when two share one) and chosen by its name. A PortAudio device listed under
    several host APIs appears once, by its whole name, with its value qualified by the
    first host API listing that name so the recorder opens exactly that one.
    """
    listed = list(mics)
    sources = [mic for mic in listed if _is_source(mic)]
    if sources:
        shown = [_description(mic) for mic in sources]
        return [(_("System default"), None)] + [
            (text if shown.count(text) == 1 else f"{text} ({_field(mic, 'name')})",
             str(_field(mic, "name"))) for mic, text in zip(sources, shown, strict=True)]
    groups: dict[str, list[tuple[str, str]]] = {}
    for mic in listed:
        name = str(_field(mic, "name") or "").strip()
        if not name or name.lower() in DEFAULT_ALIASES:
            continue
        groups.setdefault(name[:MME_NAME_LENGTH].lower(), []).append(
            (name, str(_field(mic, "host_api") or "")))
    choices: list[tuple[str, str | None]] = [(_("System default"), None)]
    for entries in groups.values():
        # the whole name (not MME's cut one), so that the value names it the same way
        name, host = max(entries, key=lambda entry: len(entry[0]))
        ambiguous = len(entries) > 1
        value = f"{name}, {host}" if ambiguous and host else name
        choices.append((microphone_name(value), value))
    return choices


def camera_name(value: int | str | None, cameras: Iterable[Any] = ()) -> str:
    """The name a candidate sees for the camera ``value`` (index, video file or None)."""
    if value is None or str(value).strip().lower() in ("", "none"):
        return _("No camera")
    text = str(value).strip()
    if _is_file(text):
        return Path(text).name
    listed = list(cameras)
    for camera in listed:
        name = str(_field(camera, "name") or "")
        if str(_field(camera, "index")) == text and name:
            twins = sum(str(_field(c, "name") or "") == name for c in listed)
            return name if twins == 1 else f"{name} ({text})"  # two of one model
    return _("Camera {n}").format(n=text)


def camera_choices(cameras: Iterable[Any]) -> list[tuple[str, int]]:
    """``(name, index)`` pairs for a camera picker."""
    listed = list(cameras)
    return [(camera_name(_field(c, "index"), listed), int(_field(c, "index"))) for c in listed]


def _is_source(mic: Any) -> bool:
    """A sound server's source (listed from PulseAudio/PipeWire, not by PortAudio)."""
    return str(_field(mic, "host_api") or "") in SOURCE_HOST_APIS


def _description(mic: Any) -> str:
    return str(_field(mic, "description") or _field(mic, "name") or "").strip()


def _field(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)
