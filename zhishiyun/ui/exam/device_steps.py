"""The exam window's device steps: 考前确认 (written, before recording) and 设备确认 (interviews).

Written exams: the confirmation page shows a live picture from its own
:class:`~zhishiyun.ui.live_preview.LivePreview` of the chosen devices (the recorder is not
running yet); confirming lets go of them and starts the recording with those devices, off
the UI thread and in order (one serial pool: a device is never opened twice at once).
Interviews record during 设备确认; a change there switches the recorder.
"""

from __future__ import annotations

from typing import Any

from zhishiyun.exam.session import State
from zhishiyun.i18n import _
from zhishiyun.ui.errors import message_for
from zhishiyun.ui.live_preview import LivePreview
from zhishiyun.ui.tasks import on_main, run_task, serial_pool


def _devices_pool() -> Any:
    return serial_pool("exam-devices")


class DeviceStepsMixin:
    """Device handling of :class:`~zhishiyun.ui.exam.window.ExamWindow`.

    Needs ``session``, ``list_devices``, ``confirm`` (interviews), ``written`` (written
    exams, or None) and ``preview`` on the window.
    """

    _confirm_live: LivePreview | None = None

    def _fill_devices(self) -> None:
        if self.list_devices is None:
            self._on_devices_listed(([], []), None)
            return
        run_task(self.list_devices, self._on_devices_listed)

    def _on_devices_listed(self, result: Any, error: BaseException | None) -> None:
        written = self.session.state == State.CONFIRM and self.written is not None
        if error is not None:
            if written:
                self.written.status.setText(message_for(error))
            else:
                self.confirm.echo_result.setText(message_for(error))
            result = ([], [])
        cameras, mics = result
        if written:
            self.written.set_devices(cameras, mics, self.session.camera,
                                     self.session.microphone)
            self._start_confirm_live(*self.written.chosen())
        elif error is None:
            self.confirm.set_devices(cameras, mics, self.session.camera,
                                     self.session.microphone)

    # --- written: 考前确认 before recording ----------------------------------------------

    def _start_confirm_live(self, camera: Any, microphone: Any) -> None:
        """Show the chosen devices live (the one before lets go first)."""
        old = self._confirm_live
        live = LivePreview(camera, microphone, on_main(lambda frame: self._on_live_frame(
            live, frame)), on_main(lambda level: self._on_live_level(live, level)),
            on_main(lambda text: self._on_live_problem(live, text)))
        self._confirm_live = live
        self.written.preview.show_placeholder(_("Camera starting…"))

        def switch() -> None:
            if old is not None:
                old.stop()
            if self._confirm_live is live:
                live.start()

        run_task(switch, None, _devices_pool())

    def _stop_confirm_live(self) -> LivePreview | None:
        live, self._confirm_live = self._confirm_live, None
        return live

    def _on_live_frame(self, live: LivePreview, frame: Any) -> None:
        if live is self._confirm_live:
            self.written.preview.show_frame(frame)
            self.preview.show_frame(frame)

    def _on_live_level(self, live: LivePreview, level: float) -> None:
        if live is self._confirm_live:
            self.written.level.setValue(int(max(0.0, min(1.0, level)) * 100))

    def _on_live_problem(self, live: LivePreview, text: str) -> None:
        if live is self._confirm_live:
            self.written.status.setText(text)

    def _on_written_devices_chosen(self, camera: Any, microphone: Any) -> None:
        if self.session.state == State.CONFIRM:
            self.written.status.setText("")
            self._start_confirm_live(camera, microphone)

    def _on_written_confirmed(self, camera: Any, microphone: Any) -> None:
        live, session = self._stop_confirm_live(), self.session
        self.preview.show_placeholder(_("Camera starting…"))

        def record() -> None:
            if live is not None:
                live.stop()  # the recorder opens the devices itself
            session.confirm_and_record(camera, microphone)

        run_task(record, self._on_recording_started, _devices_pool())

    def _on_recording_started(self, _result: Any, error: BaseException | None) -> None:
        if error is None or self.session.state != State.CONFIRM:
            return
        self.written.set_busy(False, _("The recording could not start: {error}").format(
            error=message_for(error)))
        self._start_confirm_live(*self.written.chosen())

    def _release_confirm_devices(self) -> None:
        live = self._stop_confirm_live()
        if live is not None:
            run_task(live.stop, None, _devices_pool())

    # --- interviews: 设备确认 while recording -------------------------------------------

    def _on_devices_chosen(self, camera: Any, microphone: Any) -> None:
        session = self.session
        self.preview.show_placeholder(_("Switching the camera…"))
        run_task(lambda: session.switch_devices(camera, microphone), self._on_finished)

    def _on_devices_confirmed(self) -> None:
        self.session.confirm_devices()
