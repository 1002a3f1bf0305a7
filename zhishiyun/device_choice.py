"""The camera and microphone this computer's candidate chose: what the exam records.

The device test (设备检测), face login and the exam's confirmation card save the devices
the candidate picked; entering an exam reads them back, so the exam records with what the
candidate saw working. The choice lives in the data directory as ``devices.json`` (device
names and indexes only, nothing secret) and outlives restarts; a configured ``camera`` /
``microphone`` setting applies only until the candidate chooses.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from zhishiyun.paths import write_json_atomically

log = logging.getLogger(__name__)
CHOICE_NAME = "devices.json"
#: Where a choice was made (kept with it, for the support page and the log).
PLACES = ("device_test", "face_login", "exam_confirmation")
#: ``save_choice(microphone=KEEP)``: leave the saved microphone as it is (face login).
KEEP: Any = object()


@dataclass(frozen=True)
class DeviceChoice:
    """A saved choice of devices, where and when it was made.

    ``camera`` is an index or a video file; ``microphone`` a name (``None``: the system
    default, ``"none"``: no microphone).
    """

    camera: int | str | None
    microphone: str | None
    chosen_in: str = ""
    chosen_at: str = ""


def choice_path(data_dir: str | Path) -> Path:
    """Where the choice lives in ``data_dir``."""
    return Path(data_dir) / CHOICE_NAME


def camera_value(value: Any) -> int | str | None:
    """A camera as the recorder takes it: an index (``"1"`` → 1), a video file, or None."""
    if value is None or isinstance(value, int):
        return value
    text = str(value).strip()
    if not text or text.lower() == "none":
        return None
    return int(text) if text.isdigit() else text


def microphone_value(value: Any) -> str | None:
    """A microphone as the recorder takes it: a name, ``"none"``, or None (the default)."""
    text = str(value or "").strip()
    return text or None


def load_choice(data_dir: str | Path) -> DeviceChoice | None:
    """The saved choice, or None when there is none (or it cannot be read)."""
    path = choice_path(data_dir)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("device choice %s not read: %s", path, exc)
        return None
    if not isinstance(raw, dict):
        return None
    return DeviceChoice(camera=camera_value(raw.get("camera")),
                        microphone=microphone_value(raw.get("microphone")),
                        chosen_in=str(raw.get("chosen_in") or ""),
                        chosen_at=str(raw.get("chosen_at") or ""))


def save_choice(data_dir: str | Path, camera: Any, microphone: Any = KEEP, *,
                chosen_in: str) -> DeviceChoice:
    """Save the candidate's choice atomically and return it.

    Args:
        data_dir: the client's data directory.
        camera: camera index or video file (``None``: no camera).
        microphone: microphone name (``None``: system default); :data:`KEEP` keeps the saved
            one (face login picks only a camera).
        chosen_in: one of :data:`PLACES`.
    """
    if chosen_in not in PLACES:
        raise ValueError(f"unknown place {chosen_in!r}")
    if microphone is KEEP:
        earlier = load_choice(data_dir)
        microphone = earlier.microphone if earlier is not None else None
    choice = DeviceChoice(camera=camera_value(camera), microphone=microphone_value(microphone),
                          chosen_in=chosen_in,
                          chosen_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    write_json_atomically(choice_path(data_dir), asdict(choice))
    log.info("devices chosen in %s: camera %s, microphone %s", chosen_in, choice.camera,
             choice.microphone or "default")
    return choice


@dataclass(frozen=True)
class ExamDevice:
    """A device an exam records with and where it came from.

    ``origin``: ``saved`` (this computer's choice), ``settings`` (a settings file or the
    environment) or ``default`` (nothing set: the first camera, the system's microphone);
    ``zhishiyun exam run`` adds ``flag``. ``given_as``: the microphone as saved or
    configured when this computer lists it under another name now (else None).
    """

    value: int | str | None
    origin: str
    chosen_in: str = ""
    given_as: str | None = None


def exam_device_plan(data_dir: str | Path, camera_setting: Any = None,
                     microphone_setting: Any = None, *,
                     microphone_now: Callable[[str | None], str | None] | None = None,
                     ) -> tuple[ExamDevice, ExamDevice]:
    """The camera and microphone an exam records with, each with where it came from.

    The saved choice, else the settings; see :func:`exam_devices`.
    """
    choice = load_choice(data_dir)
    if choice is not None:
        camera = ExamDevice(choice.camera, "saved", choice.chosen_in)
        microphone = ExamDevice(choice.microphone, "saved", choice.chosen_in)
    else:
        value = camera_value(camera_setting)
        configured = bool(str(camera_setting or "").strip())
        camera = ExamDevice(value if configured else 0, "settings" if configured else "default")
        value = microphone_value(microphone_setting)
        microphone = ExamDevice(value, "default" if value is None else "settings")
    return camera, microphone_on_this_computer(microphone, microphone_now)


def microphone_on_this_computer(microphone: ExamDevice,
                                microphone_now: Callable[[str | None], str | None] | None,
                                ) -> ExamDevice:
    """``microphone`` as the recorder opens it here (``microphone_now`` maps names)."""
    if microphone_now is None or microphone.value is None:
        return microphone
    now = microphone_now(str(microphone.value))
    if now is None or now == microphone.value:
        return microphone
    log.info("%s microphone %r is %r on this computer now", microphone.origin,
             microphone.value, now)
    return ExamDevice(microphone_value(now), microphone.origin, microphone.chosen_in,
                      given_as=str(microphone.value))


def exam_devices(data_dir: str | Path, camera_setting: Any = None,
                 microphone_setting: Any = None, *,
                 microphone_now: Callable[[str | None], str | None] | None = None,
                 ) -> tuple[int | str | None, str | None]:
    """The ``(camera, microphone)`` an exam records with: the saved choice, else the settings.

    With no choice and no camera setting the first camera (index 0) is used.
    ``microphone_now`` (:func:`zhishiyun.capture.devices.microphone_to_open`) turns the
    saved or configured microphone into what the recorder opens on this computer now: a
    name an older version saved from PortAudio becomes the PulseAudio source it stands
    for; one it does not know is kept as saved (the recording reports it if it is gone).
    """
    camera, microphone = exam_device_plan(data_dir, camera_setting, microphone_setting,
                                          microphone_now=microphone_now)
    return camera.value, microphone.value
