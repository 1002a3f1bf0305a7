"""The hand-over point from the home page to the exam window: :class:`ExamDesk`.

``app.run`` builds one desk for the main window. When the candidate presses 进入考试 the
desk opens the full-screen :class:`~zhishiyun.ui.exam.window.ExamWindow` for a session of
the app's one :class:`~zhishiyun.exam.runtime.ExamRuntime` and hides the main window until
the candidate leaves. After login it offers to return to an exam a crash interrupted; it
asks before quitting while uploads are pending.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from zhishiyun.device_choice import exam_devices
from zhishiyun.i18n import _
from zhishiyun.ui.errors import message_for
from zhishiyun.ui.model import get
from zhishiyun.ui.qt import QApplication, QEvent, QMessageBox, QObject, QWidget
from zhishiyun.ui.tasks import run_task

if TYPE_CHECKING:
    from zhishiyun.active_session import ActiveSession
    from zhishiyun.exam.session import ExamSession
    from zhishiyun.ui.exam.window import ExamWindow
    from zhishiyun.ui.services import AppServices

log = logging.getLogger(__name__)


def list_devices() -> tuple[list, list]:
    """Cameras and microphones as ``(label, value)`` pairs for the pickers. Blocking."""
    from zhishiyun.capture.device_names import camera_choices, microphone_choices
    from zhishiyun.capture.devices import list_cameras, list_microphones

    return camera_choices(list_cameras(probe=False)), microphone_choices(list_microphones())


def ask_resume(window: QWidget, record: ActiveSession) -> bool:
    """Ask whether to return to the exam of ``record`` (tests replace this)."""
    answer = QMessageBox.question(
        window, _("Return to your exam"),
        _("“{name}” is still running: Zhishiyun was closed during the exam. Return to it "
          "now? Recording continues and every pending upload resumes.").format(
            name=record.exam_name),
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.Yes)
    return answer == QMessageBox.StandardButton.Yes


class ExamDesk:
    """Opens, re-opens and resumes exam windows for one main window.

    Args:
        window: the main window (hidden while an exam window is open; its ``home`` page's
            exam list is refreshed when the candidate comes back).
        services: the app's services (their ``runtime`` makes the sessions).
    """

    def __init__(self, window: QWidget, services: AppServices) -> None:
        self.window, self.services = window, services
        self.runtime = services.runtime
        self.windows: dict[int, ExamWindow] = {}
        self.support: dict[str, Any] = {}
        self._resume_offered_for: Any = None

    def start(self) -> None:
        """Guard quitting, offer resume after each login, resume uploads in the background."""
        self.install_quit_guard()
        stack = getattr(self.window, "stack", None)
        if stack is not None:
            stack.currentChanged.connect(self._on_page_changed)
        run_task(self.runtime.start, None)  # before any login: leftovers are queued now

    def install_quit_guard(self) -> None:
        """Ask before the main window closes while uploads are pending."""
        self.window.installEventFilter(_QuitGuard(self.window, self.services))

    def _on_page_changed(self, _index: int) -> None:
        home = getattr(self.window, "home", None)
        if home is not None and self.window.stack.currentWidget() is home \
                and self._resume_offered_for is not home:
            self._resume_offered_for = home
            self.offer_resume()

    def enter(self, exam: Any) -> None:
        """Open the exam window for ``exam`` (re-opens a live one after 返回主页)."""
        exam_id = int(get(exam, "id"))
        live = self.windows.get(exam_id)
        if live is not None and live.session.state.value not in ("done", "new"):
            self._show(live.session)
            return
        runtime, client = self.runtime, self.services.client

        settings = self.services.settings  # what the candidate chose, else the settings

        def prepare() -> Any:
            from zhishiyun.capture.devices import microphone_to_open

            runtime.start()
            # an older version's saved microphone name may need the device list: off the UI
            devices = exam_devices(runtime.data_dir, settings.camera, settings.microphone,
                                   microphone_now=microphone_to_open)
            try:
                return client.config(), devices
            except Exception as exc:  # noqa: BLE001 - support contacts are optional
                log.info("no /config for the exam window: %s", exc)
                return None, devices

        def opened(prepared: Any, error: BaseException | None) -> None:
            if error is not None:
                QMessageBox.warning(self.window, _("Enter exam"), message_for(error))
                return
            config, (camera, microphone) = prepared
            self.support = _support(config) or self.support
            session = runtime.session(exam, camera=camera, microphone=microphone)
            self._show(session)

        run_task(prepare, opened)

    def _show(self, session: ExamSession) -> None:
        from zhishiyun.ui.exam.window import ExamWindow

        candidate = getattr(self.window, "candidate", None)
        exam_window = ExamWindow(session, support=self.support,
                                 candidate_name=str(get(candidate, "name", "") or ""),
                                 list_devices=list_devices)
        self.windows[int(session.exam_id)] = exam_window
        exam_window.left.connect(self._on_left)
        from zhishiyun.ui.second_camera_widget import attach_to_exam_window

        attach_to_exam_window(exam_window)
        from zhishiyun.ui.exam.instruction import attach_instruction

        attach_instruction(exam_window, self.services.download_dir)
        self.window.hide()
        exam_window.start()

    def _on_left(self, how: str) -> None:
        log.info("exam window left (%s)", how)
        self.window.show()
        exams = getattr(getattr(self.window, "home", None), "exams", None)
        if exams is not None and hasattr(exams, "refresh"):
            exams.refresh()
        after = getattr(self.services, "update_after_exam", None)  # not in every build
        if after is not None and not self.runtime.in_exam() \
                and self.runtime.pending_uploads() == 0:  # else at the next start
            run_task(after, self._on_updated_after_exam)

    def _on_updated_after_exam(self, command: Any, error: BaseException | None) -> None:
        if error is not None:
            log.warning("the update held back by the exam did not install: %s", error)
            QMessageBox.warning(self.window, _("Update"), message_for(error))
            return
        if not command:
            return
        log.info("update installer started after the exam; quitting")
        QMessageBox.information(self.window, _("Update"), _(
            "The installer has started. Zhishiyun closes now and opens again when the "
            "update is installed."))
        self.window.close()
        QApplication.quit()

    def offer_resume(self) -> None:
        """After login: offer to return to an exam a crash interrupted."""
        runtime = self.runtime

        def check() -> Any:
            runtime.start()
            return runtime.active_session()

        def checked(record: Any, error: BaseException | None) -> None:
            if error is not None or record is None:
                return
            if ask_resume(self.window, record):
                self.enter({"id": record.exam_id, "name": record.exam_name,
                            "kind": record.kind})
            else:
                log.info("candidate chose not to return to exam %s", record.exam_id)

        run_task(check, checked)

    def close(self) -> None:
        """Close every exam window for good (the app quits; the runtime closes after)."""
        for exam_window in self.windows.values():
            exam_window.dispose()
        self.windows.clear()


def _support(config: Any) -> dict:
    if config is None:
        return {}
    data = config.model_dump() if hasattr(config, "model_dump") else dict(config)
    support = data.get("support") if isinstance(data.get("support"), dict) else {}
    merged = {**data, **support}
    return {k: merged.get(k) or merged.get(k.replace("support_", ""))
            for k in ("support_phone", "support_qq", "support_email", "support_hours")}


class _QuitGuard(QObject):
    """Asks before the main window closes while uploads are pending."""

    def __init__(self, window: QWidget, services: AppServices) -> None:
        super().__init__(window)
        self._window, self._runtime = window, services.runtime

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if obj is self._window and event.type() == QEvent.Type.Close:
            pending = self._runtime.pending_uploads()
            if pending and QMessageBox.question(
                    self._window, _("Uploads pending"),
                    _("{n} recording item(s) are not uploaded yet. If you quit now they are "
                      "kept on this computer and upload the next time you start Zhishiyun; "
                      "until then the organiser cannot see them. Quit anyway?").format(
                        n=pending),
                    QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                    QMessageBox.StandardButton.No) != QMessageBox.StandardButton.Yes:
                event.ignore()
                return True
        return False
