"""Leaving the exam window: 返回主页, closing, and closing for good when the app quits.

During the exam the window cannot be closed (a banner says how to finish) and 返回主页
asks first (the exam and the recording go on); before anything is recorded (考前确认) and
after the end it leaves plainly, asking only while uploads are pending.
"""

from __future__ import annotations

from zhishiyun.exam.session import State
from zhishiyun.i18n import _
from zhishiyun.ui.exam.proctoring import EXAM_STATES
from zhishiyun.ui.qt import QGuiApplication


class LeavingMixin:
    """Leaving :class:`~zhishiyun.ui.exam.window.ExamWindow` (``left`` tells how).

    Needs ``session``, ``timer``, ``live``, ``side_panels``, ``banners``, ``ask``, ``_relay``
    and the screen slots on the window.
    """

    def _on_home_requested(self) -> None:
        if self.session.state in EXAM_STATES:
            if not self.ask(self, _("Back to home"), _(
                    "Only use this if you must deal with a problem on your computer. The exam "
                    "and the recording go on; return with Enter exam. Go back to the home "
                    "page?")):
                return
            self.session.record_event("left_to_home", {})
            self._leave("home")
        elif self.session.state in (State.NEW, State.CONFIRM):  # nothing is recorded yet
            self._leave("home")
        else:
            self._on_leave_requested()

    def dispose(self) -> None:
        """Close for good when the app quits (no question; session listeners removed)."""
        self.timer.stop()
        self._release_confirm_devices()
        for panel in self.side_panels:
            stop = getattr(panel, "stop", None)
            if stop is not None:
                stop()
        self._leaving = True
        self.close()
        self.deleteLater()

    def _leave(self, how: str) -> None:
        self.timer.stop()
        self._release_confirm_devices()
        if self.live is not None:
            self.live.stop()
        self._leaving = True
        self.close()
        self.left.emit(how)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        """Closing mid-exam is refused; after the end it asks while uploads are pending."""
        if getattr(self, "_leaving", False):
            self.session.session_did_change[:] = [c for c in self.session.session_did_change
                                                  if c is not self._relay]
            app = QGuiApplication.instance()
            for signal, slot in ((app.screenAdded, self._on_screen_added),
                                 (app.screenRemoved, self._on_screen_removed)):
                try:
                    signal.disconnect(slot)
                except (RuntimeError, TypeError):
                    pass
            super().closeEvent(event)
            return
        event.ignore()
        if self.session.state in (State.FINISHING, State.DONE):
            self._on_leave_requested()
        elif self.session.state not in (State.NEW, State.CONFIRM):
            self.banners.show_banner("close", _("The exam window cannot be closed during the "
                                                "exam. Use End exam to finish."), "orange")
        else:
            self._leave("home")
