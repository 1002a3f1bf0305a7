"""``SessionGuard``: what exam integrity does for one :class:`~zhishiyun.exam.session.ExamSession`.

* before entering: look at the environment, refuse (translated :class:`EntryRefused`) what
  the organisation blocks, and hand the report (with one camera picture for the identity
  check at entry) to ``POST /exams/{id}/sessions``;
* once recording: an ``environment`` event, then the :class:`~zhishiyun.exam.watchers.
  ExamWatchers` (prohibited programs, environment changes, battery, keep-awake, identity
  frames when the server asks);
* at the end: each track's last seq for ``POST /sessions/{sid}/finish``.

Banners reach the session's listeners as ``session_did_change("banner", (key, text))``
(text None: take it down), on the watcher thread.
"""

from __future__ import annotations

import logging
from typing import Any

from zhishiyun.api.errors import ApiError
from zhishiyun.config import CheckThresholds, IntegritySettings, merge_from_server
from zhishiyun.errors import ZhishiyunError
from zhishiyun.exam.environment import Environment, EnvironmentProbe, integrity_from_config
from zhishiyun.exam.watchers import ExamWatchers, jpeg_b64, manifest_last_seqs

log = logging.getLogger(__name__)
#: How long entering waits for the camera picture of the identity check.
ENTRY_FRAME_TIMEOUT_S = 4.0


class EntryRefused(ZhishiyunError):
    """The organisation's settings keep this computer out of the exam (message says why)."""


class SessionGuard:
    """Integrity for one session.

    Args:
        session: the :class:`ExamSession` (client, camera, microphone, record_event …).
        probe: looks at the environment (default: this computer's, with the org's lists).
        platform: keep-awake and battery (default: this computer's; ``False``: none).
        integrity / thresholds: the organisation's settings (default: from ``/config``).
        watch: start the watchers while recording (False: only the entry report).
        watcher_options: passed to :class:`ExamWatchers` (intervals, clock).
    """

    def __init__(self, session: Any, *, probe: EnvironmentProbe | None = None,
                 platform: Any = None, integrity: IntegritySettings | None = None,
                 thresholds: CheckThresholds | None = None, watch: bool = True,
                 watcher_options: dict[str, Any] | None = None) -> None:
        self.session = session
        self._probe, self._platform = probe, platform
        self.integrity, self.thresholds = integrity, thresholds
        self.watch = watch
        self.watcher_options = dict(watcher_options or {})
        self.environment: Environment | None = None
        self.watchers: ExamWatchers | None = None

    def _settings(self) -> None:
        if self.integrity is not None and self.thresholds is not None:
            return
        try:
            config = self.session.client.config()
        except ApiError as exc:  # the server decides again at entry
            log.info("integrity: /config not read (%s); defaults apply", exc.code)
            config = None
        if self.integrity is None:
            self.integrity = integrity_from_config(config) if config else IntegritySettings()
        if self.thresholds is None:
            self.thresholds = merge_from_server(CheckThresholds(),
                                                getattr(config, "checks", None))

    @property
    def platform(self) -> Any:
        """Keep-awake and battery probes (None when turned off)."""
        if self._platform is None:
            from zhishiyun.platform import current

            self._platform = current()
        return self._platform or None

    def entry_report(self) -> dict[str, Any]:
        """Look around and return the entry report. Blocking (device listing, probes).

        Raises:
            EntryRefused: a stand-in or a blocked environment signal (translated reason).
        """
        self._settings()
        if self._probe is None:
            self._probe = EnvironmentProbe(self.integrity, platform=self.platform,
                                           max_displays=self.thresholds.max_displays)
        self.environment = self._probe.snapshot(self.session.camera, self.session.microphone)
        refusal = self.environment.refusal(self.integrity)
        if refusal:
            raise EntryRefused(refusal)
        return self.environment.body(self._entry_frame())

    def _entry_frame(self) -> str | None:
        """One camera picture for the server's identity check at entry (None: no camera)."""
        camera = self.session.camera
        if camera is None or str(camera).strip().lower() == "none":
            return None
        from zhishiyun.capture.errors import DeviceError
        from zhishiyun.capture.probe import grab_camera_frame

        try:
            return jpeg_b64(grab_camera_frame(camera, timeout_s=ENTRY_FRAME_TIMEOUT_S))
        except DeviceError as exc:  # the recorder reports the camera; the server notes no frame
            log.info("no entry frame: %s", exc.message)
            return None

    def start(self) -> None:
        """Recording started: report the environment and start watching."""
        if self.environment is not None:
            self.session.record_event("environment", self.environment.event_details())
        if not self.watch or self.watchers is not None:
            return
        self.watchers = ExamWatchers(
            record_event=self.session.record_event,
            banner=lambda key, text: self.session._emit("banner", (key, text)),
            integrity=self.integrity, prohibited=self.thresholds.prohibited_processes,
            probe=self._probe, baseline=self.environment,
            devices=lambda: (self.session.camera, self.session.microphone),
            platform=self.platform,
            identity=self._identity, **self.watcher_options)
        self.watchers.start()

    def _identity(self) -> None:
        session = self.session
        if not session.session_id or session.finish_reason:
            return
        try:
            if not session.client.identity_wanted(session.session_id):
                return
            frame = jpeg_b64(session._camera_picture())
            if frame is None:
                log.info("identity frame wanted but no camera picture yet")
                return
            result = session.client.send_identity_frame(session.session_id, frame)
            log.info("identity check: %s", result)
        except ApiError as exc:  # offline or not due any more: the server notes what it missed
            log.info("identity check not done: %s", exc.code)

    def stop(self) -> None:
        """Stop watching (idempotent)."""
        watchers, self.watchers = self.watchers, None
        if watchers is not None:
            watchers.stop()

    def last_seqs(self) -> dict[str, int]:
        """Each track's last seq, from the session's manifest."""
        return manifest_last_seqs(self.session.session_dir)
