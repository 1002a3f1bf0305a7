"""``camera``: a camera opens and gives a picture that is not blank within a few seconds."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np

from zhishiyun.checks.base import Check, CheckResult, Status
from zhishiyun.checks.context import CheckContext, DeviceToTest
from zhishiyun.i18n import N_, _

log = logging.getLogger(__name__)

#: A frame whose pixels vary less than this (standard deviation, 0…255) shows nothing.
BLANK_STDDEV = 3.0
#: A frame darker than this (mean, 0…255) is too dark to see a face.
DARK_MEAN = 40.0
GRAB_TIMEOUT_S = 4.0


def camera_stand_in(spec: object) -> str | None:
    """``camera_file`` for a video file, ``no_camera`` for ``none``, else None (a camera)."""
    text = str(spec if spec is not None else "").strip()
    if text.lower() == "none":
        return "no_camera"
    if not text or text.isdigit() or text.startswith("/dev/video"):
        return None
    return "camera_file" if Path(text).expanduser().is_file() else None


def camera_exists(spec: str, found: list[dict]) -> bool:
    """Whether the camera ``spec`` is still there (an index not listed on Linux is gone)."""
    if spec.isdigit():
        return not sys.platform.startswith("linux") or any(
            str(c["index"]) == spec for c in found)
    return Path(spec).expanduser().exists()


def chosen_or_settings(kind: str, device: DeviceToTest, present: bool) -> DeviceToTest:
    """The chosen device while it is ``present``, else the settings' (said in the log)."""
    if not device.chosen_in or present:
        return device
    log.info("checks: the %s chosen in %s (%s) is no longer there; testing %s from the "
             "settings", kind, device.chosen_in, device.value, device.setting or "the default")
    return device.from_settings()


def stand_in_refused(check: Check, kind: str, setting: str,
                     chosen: bool = False) -> CheckResult:
    """The failure of the camera or microphone check for a stand-in the organisation forbids.

    ``chosen``: the stand-in is the candidate's saved choice, not a settings line.
    """
    messages = {
        "camera_file": _("A video file is set as the camera; this organisation's exams need "
                         "a real camera."),
        "no_camera": _("The camera is turned off in the settings; this organisation's exams "
                       "need a real camera."),
        "no_microphone": _("The microphone is turned off in the settings; this "
                           "organisation's exams need a real microphone."),
        "file_microphone": _("A file is set as the microphone; this organisation's exams "
                             "need a real microphone."),
    }
    if chosen:
        return check.result(
            Status.FAIL, messages[kind],
            _("Choose a real camera and microphone in the device test, then run the check "
              "again."), {"stand_in": kind, "allowed": False})
    return check.result(
        Status.FAIL, messages[kind],
        _("Remove the '{setting}' line from the settings file (and the ZHISHIYUN_{upper} "
          "environment variable), connect the device, then run the check again.").format(
            setting=setting, upper=setting.upper()),
        {"stand_in": kind, "allowed": False})


def frame_stats(frame: np.ndarray) -> dict[str, float]:
    """Mean brightness and contrast (standard deviation) of a BGR frame, 0…255."""
    gray = frame.astype(np.float32).mean(axis=2) if frame.ndim == 3 else frame.astype(np.float32)
    return {"mean": round(float(gray.mean()), 1), "stddev": round(float(gray.std()), 1)}


class CameraCheck(Check):
    """The chosen or preferred camera (index or video file), else the others.

    The camera is the one :meth:`CheckContext.device` names: the command line's, else the
    candidate's saved choice, else the ``camera`` setting.
    """

    id = "camera"
    title = N_("Camera")
    timeout_s = 10.0

    def run(self, context: CheckContext) -> CheckResult:
        """Grab one frame from each candidate camera until one shows a picture."""
        from zhishiyun.capture.devices import list_cameras
        from zhishiyun.capture.errors import DeviceError
        from zhishiyun.capture.probe import grab_camera_frame

        found = []
        if sys.platform.startswith("linux"):
            found = [{"index": c.index, "name": c.name} for c in list_cameras(probe=False)]
        device = context.device("camera")
        device = chosen_or_settings("camera", device, camera_exists(device.value, found))
        preferred = device.value
        stand_in = camera_stand_in(preferred)
        if stand_in is not None and not context.integrity.stand_in_devices:
            return stand_in_refused(self, stand_in, "camera", chosen=bool(device.chosen_in))
        if stand_in == "no_camera":
            return self.result(Status.SKIP, _("The camera is turned off in the settings."),
                               details={"stand_in": stand_in, "allowed": True})
        specs: list[int | str] = [preferred] if preferred else []
        if sys.platform.startswith("linux"):
            specs += [c["index"] for c in found if str(c["index"]) != preferred]
        else:  # no listing without opening: try the first two indexes
            specs += [i for i in (0, 1) if str(i) != preferred]
        if not specs:
            specs = [0]
        details: dict[str, object] = {"cameras": found, "tried": []}
        if device.chosen_in:
            details["chosen_in"] = device.chosen_in
        if stand_in is not None:
            details.update(stand_in=stand_in, allowed=True)
        errors: list[str] = []
        problem: CheckResult | None = None
        for spec in specs:
            if context.cancelled.is_set():
                break
            try:
                frame = grab_camera_frame(spec, timeout_s=GRAB_TIMEOUT_S)
            except DeviceError as exc:
                errors.append(exc.message)
                details["tried"].append({"camera": spec, "error": exc.message})
                continue
            stats = frame_stats(frame)
            height, width = frame.shape[:2]
            details["tried"].append({"camera": spec, "width": width, "height": height, **stats})
            name = self._name(spec, found)
            if stats["stddev"] < BLANK_STDDEV:
                problem = problem or self.result(
                    Status.FAIL,
                    _("{name} opens but shows only a blank picture.").format(name=name),
                    _("Open the lens cover or privacy shutter, make sure no other program "
                      "uses the camera, then run the check again."), details)
                continue
            details.update(camera=spec, width=width, height=height, **stats)
            if stats["mean"] < DARK_MEAN:
                return self.result(
                    Status.WARN,
                    _("{name} works, but the picture is very dark.").format(name=name),
                    _("Turn on a light in front of you so your face can be seen clearly."),
                    details)
            return self.result(Status.PASS, _("{name} works ({width}×{height}).").format(
                name=name, width=width, height=height), details=details)
        if problem is not None:
            return problem
        if not found and not preferred:
            return self.result(
                Status.FAIL, _("No camera was found."),
                _("Connect a camera (or turn on the built-in one), allow camera access in the "
                  "system privacy settings, then run the check again."), details)
        return self.result(
            Status.FAIL,
            _("No camera gives a picture: {errors}").format(errors=" ".join(dict.fromkeys(errors))),
            _("Close other programs that use the camera (video calls, browsers), reconnect it, "
              "allow camera access in the system privacy settings, then run the check again."),
            details)

    @staticmethod
    def _name(spec: int | str, found: list[dict]) -> str:
        for cam in found:
            if str(cam["index"]) == str(spec):
                return str(cam["name"])
        if not str(spec).isdigit():
            return _("The video file {name}").format(name=Path(str(spec)).name)
        return _("Camera {spec}").format(spec=spec)
