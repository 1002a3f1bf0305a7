"""Watchers during the exam: prohibited programs, the environment, power, identity frames.

:class:`ExamWatchers` runs one thread (``exam-watchers``) while the session records. Each
look that finds something calls ``record_event(kind, details)`` (details carry a
``severity``) and, where the candidate can act, ``banner(key, text)``; ``banner(key, None)``
takes a banner down. Both callbacks fire on the watcher thread.

* Prohibited programs, every ``process_interval_s``: a new one → ``prohibited_program``
  (warning) and a banner asking to close it; still running ``prohibited_grace_s`` later →
  ``prohibited_program_still_running`` (severe); closed → ``prohibited_program_closed``.
* The environment, every ``environment_interval_s``: what changed since the last look
  (:meth:`~zhishiyun.exam.environment.Environment.changes`: monitors, camera or microphone
  switched, a virtual device or a remote session appearing) → ``environment_changed``.
* Power: on battery below ``battery_warn_percent`` → ``battery_low`` and a banner.
* Keep-awake: held while the watchers run; when the system refuses it,
  ``keep_awake_unavailable``.
* Identity: the server decides when it wants a camera frame (the client cannot know in
  advance): each poll asks, and a frame goes up only when asked.

:meth:`ExamWatchers.tick` does one pass (the thread calls it; tests call it directly).
"""

from __future__ import annotations

import base64
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from zhishiyun.checks.processes import find_prohibited
from zhishiyun.config import IntegritySettings
from zhishiyun.exam.environment import Environment, EnvironmentProbe
from zhishiyun.i18n import _

log = logging.getLogger(__name__)

EventSink = Callable[[str, dict[str, Any]], None]
BannerSink = Callable[[str, "str | None"], None]


def manifest_last_seqs(session_dir: str | Path) -> dict[str, int]:
    """The highest seq per track in a session's ``manifest.jsonl`` (for the finish call)."""
    from zhishiyun.capture.manifest import read_records
    from zhishiyun_formats.manifest import MANIFEST_NAME

    path = Path(session_dir) / MANIFEST_NAME
    last: dict[str, int] = {}
    if not path.exists():
        return last
    for record in read_records(path):
        track, seq = record.get("track"), record.get("seq")
        if isinstance(track, str) and isinstance(seq, int) and not isinstance(seq, bool):
            last[track] = max(seq, last.get(track, -1))
    return last


class ExamWatchers:
    """The periodic looks of one exam session.

    Args:
        record_event: stores a proctoring event (the session's ``record_event``).
        banner: shows (text) or removes (None) a banner by key.
        integrity: the organisation's settings (grace period, battery threshold).
        prohibited: program names that may not run.
        probe: looks at the environment; None skips environment watching.
        baseline: the environment at entry (changes are reported against it).
        camera / microphone: what the session records from (for the probe).
        devices: ``() -> (camera, microphone)`` read at each look instead (the session's
            current devices, which device confirmation may switch).
        platform: keep-awake and battery (None: no keep-awake, no battery watch).
        identity: ``() -> None`` asking the server whether it wants a frame now, and
            sending one when it does (None: no identity checks).
        process_interval_s / environment_interval_s / identity_interval_s: how often.
        now: a monotonic clock (tests pass their own).
    """

    def __init__(self, *, record_event: EventSink, banner: BannerSink,
                 integrity: IntegritySettings | None = None,
                 prohibited: tuple[str, ...] = (),
                 probe: EnvironmentProbe | None = None, baseline: Environment | None = None,
                 camera: int | str | None = None, microphone: str | None = None,
                 devices: Callable[[], tuple[Any, Any]] | None = None, platform: Any = None,
                 identity: Callable[[], None] | None = None,
                 process_interval_s: float = 3.0, environment_interval_s: float = 10.0,
                 identity_interval_s: float = 20.0,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.record_event, self.banner = record_event, banner
        self.integrity = integrity or IntegritySettings()
        self.prohibited = tuple(prohibited)
        self.probe, self.baseline = probe, baseline
        self.devices = devices or (lambda: (camera, microphone))
        self.platform, self.identity = platform, identity
        self.intervals = {"processes": process_interval_s,
                          "environment": environment_interval_s,
                          "identity": identity_interval_s}
        self.now = now
        self._due = dict.fromkeys(self.intervals, 0.0)
        self._running: dict[str, float] = {}  # prohibited program → first seen
        self._severe: set[str] = set()
        self._battery_low = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._awake: contextlib.ExitStack | None = None

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Hold keep-awake and start the watcher thread (idempotent)."""
        if self._thread is not None:
            return
        self._hold_awake()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="exam-watchers", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and release keep-awake (idempotent)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        awake, self._awake = self._awake, None
        if awake is not None:
            awake.close()

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            try:
                self.tick()
            except Exception:  # a failing look must not end the others
                log.exception("exam watcher failed")

    def _hold_awake(self) -> None:
        if self.platform is None:
            return
        stack = contextlib.ExitStack()
        try:
            status = stack.enter_context(self.platform.keep_awake("Zhishiyun exam recording"))
        except Exception as exc:  # keep-awake must never stop a recording
            log.warning("keep-awake failed: %s", exc)
            status = None
        self._awake = stack
        if status is None or not status.active:
            self.record_event("keep_awake_unavailable", {
                "severity": "warning",
                "reason": getattr(status, "reason", "") or "keep-awake failed"})
        else:
            self.record_event("keep_awake", {"severity": "info", "method": status.method})

    # --- one pass ----------------------------------------------------------------------

    def tick(self) -> None:
        """Run every look that is due."""
        now = self.now()
        for name, look in (("processes", self.check_processes),
                           ("environment", self.check_environment),
                           ("identity", self.check_identity)):
            if now >= self._due[name]:
                self._due[name] = now + self.intervals[name]
                look()

    def check_processes(self) -> None:
        """Prohibited programs: new, still running after the grace period, closed."""
        if not self.prohibited:
            return
        now = self.now()
        found = {str(f["name"]): f for f in find_prohibited(self.prohibited)}
        for name, info in found.items():
            if name not in self._running:
                self._running[name] = now
                self.record_event("prohibited_program", {
                    "severity": "warning", "name": name, "pid": info.get("pid"),
                    "matches": info.get("matches")})
                self.banner(f"prohibited:{name}", _(
                    "{name} must not run during the exam. Quit it now (also from the taskbar "
                    "tray or the menu bar).").format(name=name))
            elif (now - self._running[name] >= self.integrity.prohibited_grace_s
                  and name not in self._severe):
                self._severe.add(name)
                self.record_event("prohibited_program_still_running", {
                    "severity": "severe", "name": name, "pid": info.get("pid"),
                    "seconds": round(now - self._running[name])})
        for name in [n for n in self._running if n not in found]:
            self.record_event("prohibited_program_closed", {
                "severity": "info", "name": name,
                "seconds": round(now - self._running.pop(name))})
            self._severe.discard(name)
            self.banner(f"prohibited:{name}", None)

    def check_environment(self) -> None:
        """What changed in the environment, and the battery."""
        if self.probe is not None:
            newer = self.probe.snapshot(*self.devices())
            if self.baseline is not None:
                for signal in self.baseline.changes(newer):
                    self.record_event("environment_changed", {
                        **signal.to_dict(), "severity": signal.severity})
                    if signal.kind in ("monitors_changed", "several_monitors"):
                        self.banner("monitors", _(
                            "Another monitor was connected. Unplug it: only one monitor is "
                            "allowed during the exam.") if len(newer.monitors) > 1 else None)
            self.baseline = newer
        self.check_power()

    def check_power(self) -> None:
        """On battery below the threshold: an event and a banner (once until it recovers)."""
        if self.platform is None:
            return
        try:
            power = self.platform.power()
        except Exception as exc:  # a battery that cannot be read is not an exam problem
            log.debug("battery unknown: %s", exc)
            return
        low = bool(power.on_battery and power.percent is not None
                   and power.percent < self.integrity.battery_warn_percent)
        if low and not self._battery_low:
            self.record_event("battery_low", {"severity": "warning", "percent": power.percent,
                                              "seconds_left": power.seconds_left})
            self.banner("battery", _(
                "The battery is at {percent:.0f}%. Connect the charger now so the recording "
                "does not stop.").format(percent=power.percent))
        elif not low and self._battery_low:
            self.record_event("battery_ok", {"severity": "info", "percent": power.percent,
                                             "plugged": power.plugged})
            self.banner("battery", None)
        self._battery_low = low

    def check_identity(self) -> None:
        """Ask the server whether it wants a camera frame now (it alone knows when)."""
        if self.identity is not None:
            self.identity()


def jpeg_b64(frame: Any, quality: int = 85) -> str | None:
    """A BGR frame as base64 JPEG (None when there is no frame or it cannot be encoded)."""
    if frame is None:
        return None
    import cv2

    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return base64.b64encode(data.tobytes()).decode("ascii") if ok else None
