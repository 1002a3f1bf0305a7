"""``microphone``: an input device records a short clip; pure silence is a warning.

The inputs are listed where the recorder reads them (PulseAudio's sources on Linux, else
PortAudio's) and the clip is recorded through the recorder's own microphone source.
"""

from __future__ import annotations

from pathlib import Path

from zhishiyun.checks.base import Check, CheckResult, Status
from zhishiyun.checks.camera import chosen_or_settings, stand_in_refused
from zhishiyun.checks.context import CheckContext
from zhishiyun.i18n import N_, _

CLIP_SECONDS = 1.0
SAMPLE_RATE = 16000
#: Below this RMS level (about -90 dBFS) the clip counts as pure silence.
SILENCE_RMS = 3e-5


def microphone_stand_in(spec: object) -> str | None:
    """``no_microphone`` for ``none``, ``file_microphone`` for a file, else None (a device)."""
    text = str(spec if spec is not None else "").strip()
    if text.lower() == "none":
        return "no_microphone"
    if text and ("/" in text or "\\" in text) and Path(text).expanduser().is_file():
        return "file_microphone"
    return None


def microphone_exists(spec: str, mics: list | None) -> bool:
    """Whether the microphone ``spec`` is still there (``mics``: the listed inputs, or None).

    The system default always is (also named ``default``, ``pulse``…); a file must exist;
    a device must be listed (see :func:`~zhishiyun.capture.devices.find_microphone`: by
    name, description, or an older version's PortAudio name). Where the list is the sound
    server's, a name PortAudio still lists is there too: the recorder falls back to it.
    """
    from zhishiyun.capture.devices import find_microphone, is_pulse_source, portaudio_knows
    from zhishiyun.capture.pulse_input import DEFAULT_SOURCE_NAMES

    if not spec or spec.strip().lower() in DEFAULT_SOURCE_NAMES:
        return True
    if "/" in spec or "\\" in spec:
        return Path(spec).expanduser().is_file()
    if mics is None:  # not listed: the recording will tell
        return True
    if find_microphone(spec, mics) is not None:
        return True
    return any(is_pulse_source(m) for m in mics) and portaudio_knows(spec)


class MicrophoneCheck(Check):
    """Records ``CLIP_SECONDS`` from the chosen or preferred microphone.

    The microphone is the one :meth:`CheckContext.device` names: the command line's, else
    the candidate's saved choice, else the ``microphone`` setting.
    """

    id = "microphone"
    title = N_("Microphone")
    timeout_s = 8.0

    def run(self, context: CheckContext) -> CheckResult:
        """List the inputs, record a clip, measure its level."""
        from zhishiyun.capture.device_names import microphone_name
        from zhishiyun.capture.devices import (
            is_pulse_source,
            list_microphones,
            microphone_to_open,
        )
        from zhishiyun.capture.errors import DeviceError
        from zhishiyun.capture.probe import dbfs, peak, record_audio_clip, rms

        device = context.device("microphone")
        listed: list | None = None
        if device.chosen_in:
            try:
                listed = list_microphones()
            except DeviceError:
                listed = None  # reported below, when the inputs are listed again
        device = chosen_or_settings("microphone", device,
                                    microphone_exists(device.value, listed))
        preferred = device.value
        stand_in = microphone_stand_in(preferred)
        if stand_in is not None and not context.integrity.stand_in_devices:
            return stand_in_refused(self, stand_in, "microphone",
                                    chosen=bool(device.chosen_in))
        if stand_in == "no_microphone":
            return self.result(Status.SKIP, _("The microphone is turned off in the settings."),
                               _("Remove 'microphone = \"none\"' from the settings to test it."),
                               {"stand_in": stand_in, "allowed": True})
        try:
            mics = listed if listed is not None else list_microphones()
        except DeviceError as exc:
            return self.result(Status.FAIL, exc.message, exc.hint, {"error": exc.code})
        names = [m.name for m in mics]
        details: dict[str, object] = {"microphones": names}
        if device.chosen_in:
            details["chosen_in"] = device.chosen_in
        if not mics:
            return self.result(
                Status.FAIL, _("No microphone was found."),
                _("Connect a microphone or headset, allow microphone access in the system "
                  "privacy settings, then run the check again."), details)
        if any(is_pulse_source(m) for m in mics) and not microphone_exists(preferred, mics):
            # neither the sound server nor PortAudio (the recorder's fallback) has it
            details["error"] = "microphone_not_found"
            return self.result(
                Status.FAIL, _("No microphone named {name!r}.").format(name=preferred),
                _("Available: {names}").format(names=", ".join(
                    microphone_name(m.name, mics) for m in mics)), details)
        # what the recorder opens: a listed name (an older PortAudio name mapped to it)
        device_value = microphone_to_open(preferred or None, mics)
        try:
            clip = record_audio_clip(device_value, CLIP_SECONDS, SAMPLE_RATE)
        except DeviceError as exc:
            details["error"] = exc.code
            return self.result(Status.FAIL, exc.message, exc.hint, details)
        level, top = rms(clip), peak(clip)
        used = microphone_name(device_value or next((m.name for m in mics if m.is_default),
                                                    names[0]), mics)  # one name everywhere
        details.update(microphone=used, device=device_value or "",
                       samples=int(clip.size), rms_dbfs=round(dbfs(level), 1),
                       peak_dbfs=round(dbfs(top), 1))
        if level < SILENCE_RMS:
            return self.result(
                Status.WARN,
                _("The microphone {name} records only silence.").format(name=used),
                _("Check that the microphone is not muted (also a mute switch on a headset) and "
                  "that its input volume is up, then speak while the check runs."), details)
        return self.result(Status.PASS, _("The microphone {name} works ({level:.0f} dBFS).")
                           .format(name=used, level=dbfs(level)), details=details)
