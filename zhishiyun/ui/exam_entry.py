"""The hand-over point from the home page to the exam window (GUI part 2).

``enter_exam(window, services, exam)`` runs on the main thread when the candidate presses
进入考试: it builds the exam runtime once (upload queue + worker + server clock, in the data
directory), opens the full-screen :class:`~zhishiyun.ui.exam.window.ExamWindow` and hides
the main window until the candidate leaves. ``install_exam_hooks(window, services)`` offers
to return to an exam a crash interrupted (after login) and asks before quitting while
uploads are pending.
"""

from __future__ import annotations

import logging
from typing import Any

from zhishiyun.i18n import _
from zhishiyun.ui.errors import message_for
from zhishiyun.ui.model import get
from zhishiyun.ui.qt import QEvent, QMessageBox, QObject, QWidget
from zhishiyun.ui.tasks import run_task

log = logging.getLogger(__name__)


def runtime_for(services: Any) -> Any:
    """The app's :class:`~zhishiyun.exam.runtime.ExamRuntime` (built on first use)."""
    runtime = getattr(services, "exam_runtime", None)
    if runtime is None:
        from zhishiyun.exam.runtime import ExamRuntime

        runtime = ExamRuntime(services.client, services.settings.data_path)
        services.exam_runtime = runtime
        services.exam_windows = {}
    return runtime


def list_devices() -> tuple[list, list]:
    """Cameras and microphones as ``(label, value)`` pairs for the pickers. Blocking."""
    from zhishiyun.capture.devices import list_cameras, list_microphones

    cameras = [(f"{c.index}: {c.name}", c.index) for c in list_cameras(probe=False)]
    mics = [(_("System default"), None)] + [(m.name, m.name) for m in list_microphones()]
    return cameras, mics


def _camera_choice(services: Any) -> Any:
    value = str(getattr(services.settings, "camera", "") or "").strip()
    return int(value) if value.isdigit() or not value else value


def enter_exam(window: QWidget, services: Any, exam: Any) -> None:
    """Open the exam window for ``exam`` (re-opens a live one after 返回主页)."""
    runtime = runtime_for(services)
    exam_id = int(get(exam, "id"))
    live = services.exam_windows.get(exam_id)
    if live is not None and live.session.state.value not in ("done", "new"):
        _show(window, services, live.session, {})
        return

    def prepare() -> Any:
        runtime.start()
        try:
            return services.client.config()
        except Exception as exc:  # noqa: BLE001 - support contacts are optional
            log.info("no /config for the exam window: %s", exc)
            return None

    def opened(config: Any, error: BaseException | None) -> None:
        if error is not None:
            QMessageBox.warning(window, _("Enter exam"), message_for(error))
            return
        support = _support(config)
        microphone = str(getattr(services.settings, "microphone", "") or "") or None
        session = runtime.session(exam, camera=_camera_choice(services), microphone=microphone)
        _show(window, services, session, support)

    run_task(prepare, opened)


def _support(config: Any) -> dict:
    if config is None:
        return {}
    data = config.model_dump() if hasattr(config, "model_dump") else dict(config)
    support = data.get("support") if isinstance(data.get("support"), dict) else {}
    merged = {**data, **support}
    return {k: merged.get(k) or merged.get(k.replace("support_", ""))
            for k in ("support_phone", "support_qq", "support_email", "support_hours")}


def _show(window: QWidget, services: Any, session: Any, support: dict) -> None:
    from zhishiyun.ui.exam.window import ExamWindow

    candidate = getattr(window, "candidate", None)
    exam_window = ExamWindow(session, support=support or getattr(services, "exam_support", {}),
                             candidate_name=str(get(candidate, "name", "") or ""),
                             list_devices=list_devices)
    services.exam_support = support or getattr(services, "exam_support", {})
    services.exam_windows[int(session.exam_id)] = exam_window

    def left(how: str) -> None:
        log.info("exam window left (%s)", how)
        window.show()
        home = getattr(window, "home", None)
        exams = getattr(home, "exams", None)
        if exams is not None and hasattr(exams, "refresh"):
            exams.refresh()

    exam_window.left.connect(left)
    from zhishiyun.ui.second_camera_widget import attach_to_exam_window  # issue 11
    attach_to_exam_window(exam_window)
    window.hide()
    exam_window.start()


def ask_resume(window: QWidget, record: Any) -> bool:
    """Ask whether to return to the exam of ``record`` (tests replace this)."""
    answer = QMessageBox.question(
        window, _("Return to your exam"),
        _("“{name}” is still running: Zhishiyun was closed during the exam. Return to it "
          "now? Recording continues and every pending upload resumes.").format(
            name=record.exam_name),
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.Yes)
    return answer == QMessageBox.StandardButton.Yes


def offer_resume(window: QWidget, services: Any) -> None:
    """After login: offer to return to an exam a crash interrupted; resume its uploads."""
    runtime = runtime_for(services)

    def check() -> Any:
        runtime.start()
        return runtime.active_session()

    def checked(record: Any, error: BaseException | None) -> None:
        if error is not None or record is None:
            return
        if ask_resume(window, record):
            enter_exam(window, services, {"id": record.exam_id, "name": record.exam_name,
                                          "kind": record.kind})
        else:
            log.info("candidate chose not to return to exam %s", record.exam_id)

    run_task(check, checked)


class _QuitGuard(QObject):
    """Asks before the main window closes while uploads are pending."""

    def __init__(self, window: QWidget, services: Any) -> None:
        super().__init__(window)
        self._window, self._services = window, services

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if obj is self._window and event.type() == QEvent.Type.Close:
            runtime = getattr(self._services, "exam_runtime", None)
            pending = runtime.pending_uploads() if runtime is not None else 0
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


def install_exam_hooks(window: QWidget, services: Any) -> None:
    """Offer resume once the home page shows after login; guard quitting with uploads."""
    window.installEventFilter(_QuitGuard(window, services))
    stack = getattr(window, "stack", None)
    if stack is None:
        return

    def changed(_index: int) -> None:
        home = getattr(window, "home", None)
        if home is not None and stack.currentWidget() is home:
            if getattr(window, "_exam_resume_offered", None) is not home:
                window._exam_resume_offered = home
                offer_resume(window, services)

    stack.currentChanged.connect(changed)
