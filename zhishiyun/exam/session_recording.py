"""Recording for an :class:`~zhishiyun.exam.session.ExamSession`: recorder, presence, devices.

The recorder starts with the session's camera, microphone and screen and continues after
the segments already on disk. While it records, a
:class:`~zhishiyun.auth.presence.PresenceSampler` looks at the newest camera picture about
once a second (no face, more than one face: a proctoring event, never an automatic fail).
Devices switched during entry become this computer's choice
(:mod:`zhishiyun.device_choice`).
"""

from __future__ import annotations

import logging
from typing import Any

from zhishiyun.auth.presence import PresenceEvent, PresenceSampler
from zhishiyun.capture.recorder import RecorderEvent
from zhishiyun.device_choice import save_choice

log = logging.getLogger(__name__)

#: Recorder events that are also proctoring events on the server.
PROCTORED_RECORDER_EVENTS = {"device_lost", "device_restored", "disk_low", "disk_full",
                             "track_failed"}


class SessionRecordingMixin:
    """The recorder and device part of an ExamSession (uses its attributes)."""

    def start_recording(self) -> None:
        """Start the recorder (continuing after the segments already on disk)."""
        with self._lock:
            if self.recorder is not None and self.recorder.running:
                return
            recorder = self.recorder_factory(
                self.session_dir, self._key, self.settings, first_seq=None,
                screen=self.screen, camera=self.camera, microphone=self.microphone,
                now_server=self.clock.now, segment_did_close=self.uploads.on_segment_closed,
                event_did_occur=self._on_recorder_event)
            recorder.start()
            self.recorder = recorder
            self._start_presence()

    def _start_presence(self) -> None:
        if self.presence is not None or self.camera is None or self.presence_settings is None:
            return
        self.presence = PresenceSampler(
            self.presence_settings, on_event=self._on_presence_event,
            on_hint=lambda text: self._emit("presence", text), frame_source=self._camera_picture)
        self.presence.start()

    def _stop_presence(self) -> None:
        presence, self.presence = self.presence, None
        if presence is not None:
            presence.stop()

    def _camera_picture(self) -> Any:
        recorder = self.recorder
        return recorder.latest_frame("camera") if recorder is not None else None

    def _on_presence_event(self, event: PresenceEvent) -> None:
        if self.store is not None and not self.finish_reason:
            self.record_event(event.kind, dict(event.details))

    def switch_devices(self, camera: int | str | None, microphone: str | None) -> None:
        """Record from other devices (device confirmation): the next segment uses them."""
        with self._lock:
            if (camera, microphone) == (self.camera, self.microphone) and self.recorder \
                    and self.recorder.running:
                return
            self.camera, self.microphone = camera, microphone
            if self.recorder is not None:
                self.recorder.stop("devices_changed")
            self.recorder = None
        self._save_choice()
        self.start_recording()
        self.record_event("devices_changed", {"camera": str(camera), "microphone":
                                              str(microphone)})

    def _save_choice(self) -> None:
        """The devices picked during entry are this computer's choice from now on."""
        try:
            save_choice(self.data_dir, self.camera, self.microphone,
                        chosen_in="exam_confirmation")
        except OSError as exc:  # the exam records with them anyway
            log.warning("device choice not saved: %s", exc)

    def _on_recorder_event(self, event: RecorderEvent) -> None:
        if event.kind in PROCTORED_RECORDER_EVENTS and self.store is not None:
            self.record_event(event.kind, {"source": event.source, "detail": event.detail})
        self._emit("recorder", event)
