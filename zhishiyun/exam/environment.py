"""The recording environment: devices, stand-ins, virtual devices, VM, remote session, screens.

:class:`EnvironmentProbe` looks once (:meth:`~EnvironmentProbe.snapshot`) and returns an
:class:`Environment`: the devices the exam records from, the stand-ins among them and a
list of :class:`Signal` with a severity. Before entering, :meth:`Environment.refusal` says
(translated) why the organisation's settings keep the candidate out, and
:meth:`Environment.body` is what ``POST /exams/{id}/sessions`` reports to the server, which
decides again. During the exam the watchers compare snapshots (:meth:`Environment.changes`).

Severities: ``info`` (facts for the reviewer), ``warning`` (worth a look), ``severe``
(evidence of a cheat or of a recording that cannot be trusted). ``docs/integrity.md``
lists every signal.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from zhishiyun.capture.device_names import microphone_name
from zhishiyun.checks.camera import camera_stand_in
from zhishiyun.checks.microphone import microphone_stand_in
from zhishiyun.config import IntegritySettings, merge_from_server
from zhishiyun.i18n import _

log = logging.getLogger(__name__)

SEVERITIES = ("info", "warning", "severe")
#: Default severity of each signal kind.
SIGNAL_SEVERITY = {
    "virtual_camera": "severe",
    "virtual_audio": "warning",
    "virtual_machine": "warning",
    "remote_session": "severe",
    "several_monitors": "severe",
    "no_monitor": "severe",
    "stand_in": "warning",
}
CAMERA_BACKENDS = {"linux": "v4l2", "darwin": "avfoundation", "win32": "dshow"}


@dataclass(frozen=True)
class Signal:
    """One fact about the environment, with how much it matters."""

    kind: str
    severity: str
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (also the event details)."""
        return asdict(self)


@dataclass
class Environment:
    """What one look at the computer found."""

    devices: dict[str, Any]
    stand_ins: list[str]
    signals: list[Signal]
    monitors: list[dict[str, Any]] = field(default_factory=list)

    def kinds(self) -> set[str]:
        """The kinds of the signals present."""
        return {s.kind for s in self.signals}

    def blocking(self, integrity: IntegritySettings) -> list[Signal]:
        """Signals the organisation blocks entry for."""
        return [s for s in self.signals if s.kind in integrity.blocking_environment]

    def refusal(self, integrity: IntegritySettings) -> str | None:
        """Why the candidate may not enter from here (translated), or None."""
        if self.stand_ins and not integrity.stand_in_devices:
            return _("This organisation's exams need a real camera and microphone; stand-ins "
                     "are not allowed here ({stand_ins}).").format(
                stand_ins=", ".join(self.stand_ins))
        blocked = self.blocking(integrity)
        if blocked:
            return _("This exam cannot be entered from this computer: {reasons}").format(
                reasons="; ".join(s.detail or s.kind for s in blocked))
        return None

    def body(self, frame_jpeg_b64: str | None = None) -> dict[str, Any]:
        """The report sent with ``POST /exams/{id}/sessions``."""
        body: dict[str, Any] = {
            "devices": {**{k: str(v)[:200] for k, v in self.devices.items()},
                        "stand_ins": list(self.stand_ins)},
            "environment": [{"kind": s.kind, "severity": s.severity, "detail": s.detail[:300]}
                            for s in self.signals if s.severity != "info"][:50],
        }
        if frame_jpeg_b64:
            body["frame_jpeg"] = frame_jpeg_b64
        return body

    def event_details(self) -> dict[str, Any]:
        """The ``environment`` event recorded when the session starts."""
        worst = max((SEVERITIES.index(s.severity) for s in self.signals), default=0)
        return {"severity": SEVERITIES[worst], "devices": dict(self.devices),
                "stand_ins": list(self.stand_ins), "monitors": list(self.monitors),
                "signals": [s.to_dict() for s in self.signals]}

    def changes(self, newer: Environment) -> list[Signal]:
        """Signals that appeared in ``newer``, plus a device change as ``device_switched``."""
        before = {(s.kind, s.detail) for s in self.signals}
        found = [s for s in newer.signals if (s.kind, s.detail) not in before
                 and s.kind not in ("monitors", "screen")]
        for role in ("camera", "microphone"):
            if self.devices.get(role) != newer.devices.get(role):
                found.append(Signal("device_switched", "warning",
                                    f"{role}: {self.devices.get(role)} → "
                                    f"{newer.devices.get(role)}",
                                    {"role": role, "before": self.devices.get(role),
                                     "after": newer.devices.get(role)}))
        if len(self.monitors) != len(newer.monitors):
            found.append(Signal("monitors_changed",
                                "severe" if len(newer.monitors) != 1 else "warning",
                                f"{len(self.monitors)} → {len(newer.monitors)} monitors",
                                {"before": len(self.monitors), "after": len(newer.monitors)}))
        return found


def screen_scale(platform_name: str = sys.platform, *,
                 environ: Mapping[str, str] | None = None,
                 xrdb: Callable[[], str | None] | None = None,
                 windows_dpi: Callable[[], int | None] | None = None) -> float | None:
    """The desktop's scaling factor (1.0 = 96 dpi), or None where it cannot be read.

    Linux: ``GDK_SCALE`` / ``QT_SCALE_FACTOR``, else ``Xft.dpi`` from ``xrdb -query``;
    Windows: ``GetDpiForSystem``; macOS: not read (the backing scale needs AppKit).
    """
    environ = os.environ if environ is None else environ
    if platform_name.startswith("linux"):
        for var in ("GDK_SCALE", "QT_SCALE_FACTOR"):
            try:
                value = float(environ.get(var, ""))
            except ValueError:
                continue
            if value > 0:
                return value
        text = (xrdb or _xrdb_query)() or ""
        for line in text.splitlines():
            key, _sep, value = line.partition(":")
            if key.strip() == "Xft.dpi":
                try:
                    return round(float(value) / 96.0, 2)
                except ValueError:
                    return None
        return 1.0 if text else None
    if platform_name == "win32":
        dpi = (windows_dpi or _windows_dpi)()
        return round(dpi / 96.0, 2) if dpi else None
    return None


def _xrdb_query() -> str | None:
    import shutil
    import subprocess

    if not shutil.which("xrdb") or not os.environ.get("DISPLAY"):
        return None
    try:
        return subprocess.run(["xrdb", "-query"], capture_output=True, text=True,
                              timeout=3, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None


def _windows_dpi() -> int | None:  # pragma: no cover - Windows only
    import ctypes

    try:
        return int(ctypes.windll.user32.GetDpiForSystem())
    except (AttributeError, OSError):
        return None


def integrity_from_config(config: Any) -> IntegritySettings:
    """The organisation's settings from a ``ServerClient.config()`` reply (or a mapping)."""
    extra = config if isinstance(config, Mapping) else (getattr(config, "model_extra", None)
                                                          or {})
    return merge_from_server(IntegritySettings(), extra)


def _audio_label(mic: Any) -> str:
    """A microphone as the virtual-device lists match it (a source: description and name).

    A PulseAudio source's name rarely says the product ("alsa_input.platform-snd_aloop…"),
    its description does ("Loopback Analog Stereo").
    """
    description = str(getattr(mic, "description", "") or "")
    return f"{description} ({mic.name})" if description and description != mic.name \
        else mic.name


def _safe(call: Callable[[], Any], default: Any) -> Any:
    try:
        return call()
    except Exception as exc:  # a probe that fails must not stop the exam: report less
        log.info("environment probe failed: %s", exc)
        return default


class EnvironmentProbe:
    """Looks at devices, virtual devices, VM, remote session and monitors.

    Args:
        integrity: the organisation's lists of virtual device names.
        platform: a :class:`zhishiyun.platform.Platform` (default: this computer's).
        cameras / microphones / screens: functions listing the devices (defaults: the
            capture package's); tests pass their own.
        max_displays: monitors allowed (more is ``several_monitors``).
        scale: reads the desktop scaling (default :func:`screen_scale`).
    """

    def __init__(self, integrity: IntegritySettings | None = None, *, platform: Any = None,
                 cameras: Callable[[], list] | None = None,
                 microphones: Callable[[], list] | None = None,
                 screens: Callable[[], list] | None = None, max_displays: int = 1,
                 scale: Callable[[], float | None] | None = None) -> None:
        from zhishiyun.capture import devices

        self.integrity = integrity or IntegritySettings()
        self._platform = platform
        self._cameras = cameras or (lambda: devices.list_cameras(probe=False)
                                    if sys.platform.startswith("linux") else [])
        self._microphones = microphones or devices.list_microphones
        self._screens = screens or devices.list_screens
        self.max_displays = max_displays
        self._scale = scale or screen_scale

    @property
    def platform(self) -> Any:
        """The platform probes (built on first use)."""
        if self._platform is None:
            from zhishiyun.platform import current

            self._platform = current()
        return self._platform

    def snapshot(self, camera: int | str | None, microphone: str | None) -> Environment:
        """One look at the computer for recording from ``camera`` and ``microphone``."""
        from zhishiyun.platform import match_virtual_devices

        cameras = _safe(self._cameras, [])
        mics = _safe(self._microphones, [])
        screens = _safe(self._screens, [])
        devices, stand_ins = self._devices(camera, microphone, cameras, mics)
        signals = [Signal("stand_in", SIGNAL_SEVERITY["stand_in"], kind) for kind in stand_ins]
        labels = {m.name: _audio_label(m) for m in mics}
        in_use = {"camera": [devices["camera"]],
                  "audio": [labels.get(devices["microphone"], devices["microphone"])]}
        # the report names the microphone as every screen does; the lists match raw names
        devices["microphone"] = microphone_name(devices["microphone"], mics) \
            if devices["microphone"] not in ("", "none") else devices["microphone"]
        present = {"camera": [c.name for c in cameras], "audio": list(labels.values())}
        lists = {"camera": self.integrity.virtual_cameras, "audio": self.integrity.virtual_audio}
        for role, kind in (("camera", "virtual_camera"), ("audio", "virtual_audio")):
            for match in match_virtual_devices(in_use[role], lists[role], kind=role):
                signals.append(Signal(kind, SIGNAL_SEVERITY[kind],
                                      _("{device} is a virtual device ({product})").format(
                                          device=match.device, product=match.product),
                                      {"device": match.device, "product": match.product,
                                       "in_use": True}))
            idle = [n for n in present[role] if n not in in_use[role]]
            for match in match_virtual_devices(idle, lists[role], kind=role):
                signals.append(Signal(f"{kind}_present", "info", match.device,
                                      {"device": match.device, "product": match.product}))
        vm = _safe(self.platform.virtual_machine, None)
        if vm is not None and vm.virtual:
            signals.append(Signal("virtual_machine", SIGNAL_SEVERITY["virtual_machine"],
                                  _("a virtual machine ({product})").format(
                                      product=vm.product or "?"),
                                  {"product": vm.product, "evidence": list(vm.evidence)}))
        remote = _safe(self.platform.remote_session, None)
        if remote is not None and remote.remote:
            signals.append(Signal("remote_session", SIGNAL_SEVERITY["remote_session"],
                                  _("a remote session ({evidence})").format(
                                      evidence=", ".join(remote.evidence)),
                                  {"evidence": list(remote.evidence)}))
        monitors = [{"name": s.name, "width": s.width, "height": s.height,
                     "primary": s.is_primary} for s in screens]
        signals.append(Signal("monitors", "info", str(len(monitors)), {"count": len(monitors)}))
        if not monitors:
            signals.append(Signal("no_monitor", SIGNAL_SEVERITY["no_monitor"],
                                  _("no monitor was found")))
        elif len(monitors) > self.max_displays:
            signals.append(Signal("several_monitors", SIGNAL_SEVERITY["several_monitors"],
                                  _("{count} monitors are connected").format(
                                      count=len(monitors)), {"count": len(monitors)}))
        scale = _safe(self._scale, None)
        for screen in monitors:
            screen["scale"] = scale
            signals.append(Signal("screen", "info", f"{screen['width']}×{screen['height']}",
                                  dict(screen)))
        return Environment(devices=devices, stand_ins=stand_ins, signals=signals,
                           monitors=monitors)

    @staticmethod
    def _devices(camera: int | str | None, microphone: str | None, cameras: list,
                 mics: list) -> tuple[dict[str, Any], list[str]]:
        stand_ins = []
        cam_kind = camera_stand_in(camera) if camera is not None else "no_camera"
        mic_kind = microphone_stand_in(microphone)
        if cam_kind:
            stand_ins.append(cam_kind)
            cam_name = Path(str(camera)).name if cam_kind == "camera_file" else "none"
            cam_backend = "file" if cam_kind == "camera_file" else ""
        else:
            index = str(camera if camera not in (None, "") else 0)
            cam_name = next((c.name for c in cameras if str(c.index) == index), "") or \
                _("Camera {spec}").format(spec=index)
            cam_backend = next((c.backend for c in cameras if str(c.index) == index and
                                c.backend), CAMERA_BACKENDS.get(sys.platform, ""))
        if mic_kind:
            stand_ins.append(mic_kind)
            mic_name = Path(str(microphone)).name if mic_kind == "file_microphone" else "none"
            mic_backend = "file" if mic_kind == "file_microphone" else ""
        else:
            default = next((m for m in mics if m.is_default), mics[0] if mics else None)
            chosen = next((m for m in mics if microphone and m.name == microphone), default)
            mic_name = microphone or (chosen.name if chosen else "")
            mic_backend = chosen.host_api if chosen else ""
        return ({"camera": cam_name, "camera_backend": cam_backend, "microphone": mic_name,
                 "microphone_backend": mic_backend}, stand_ins)
