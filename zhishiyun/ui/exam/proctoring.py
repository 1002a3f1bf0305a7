"""Proctoring in the exam window: focus, full screen, monitors, devices and the network.

Each of these shows a banner (never a blocking dialog) and, during the exam, records a
proctoring event through the session (queued while offline).
"""

from __future__ import annotations

from typing import Any

from zhishiyun.exam.session import State
from zhishiyun.i18n import _
from zhishiyun.ui.qt import QApplication, QEvent, QGuiApplication, Qt

EXAM_STATES = (State.WAITING, State.IN_PROGRESS, State.DEVICE_CONFIRM)


class ProctoringMixin:
    """The proctoring half of :class:`~zhishiyun.ui.exam.window.ExamWindow`.

    Needs ``session``, ``banners``, ``full_button``, ``net``, ``_focus_lost`` and
    ``_full_screen_seen`` on the window.
    """

    def _proctoring(self) -> bool:
        return self.session.state in EXAM_STATES

    def event(self, event: QEvent) -> bool:  # noqa: D102 - Qt override
        kind = event.type()
        # The exam's own dialogs (confirmations, 求助) take the focus too: not a focus loss.
        own_dialog = QApplication.activeModalWidget() is not None
        if kind == QEvent.Type.WindowDeactivate and self._proctoring() and not self._focus_lost \
                and not own_dialog:
            self._focus_lost = True
            self.session.record_event("focus_lost", {})
            self.banners.show_banner("focus", _("The exam window lost the focus. Switching to "
                                                "other windows is recorded."), "orange")
        elif kind == QEvent.Type.WindowActivate and self._focus_lost:
            self._focus_lost = False
            self.banners.clear_banner("focus")
            if self._proctoring():
                self.session.record_event("focus_back", {})
        return super().event(event)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        """Leaving full screen or minimising records an event and shows a warning."""
        if event.type() == QEvent.Type.WindowStateChange:
            state = self.windowState()
            if state & Qt.WindowState.WindowFullScreen:
                self._full_screen_seen = True
                self.full_button.hide()
                self.banners.clear_banner("fullscreen")
            elif self._proctoring() and self._full_screen_seen:
                minimised = bool(state & Qt.WindowState.WindowMinimized)
                self.session.record_event("minimised" if minimised else "fullscreen_left", {})
                self.full_button.show()
                self.banners.show_banner("fullscreen", _(
                    "The exam must stay in full screen. Press Back to full screen."), "orange")
        super().changeEvent(event)

    def _on_screen_added(self, screen: Any) -> None:
        count = len(QGuiApplication.screens())
        if self.session.state not in (State.NEW, State.DONE):
            self.session.record_event("display_added", {"name": screen.name(),
                                                        "count": count})
        self.banners.show_banner("display", _(
            "A second monitor was connected. Disconnect it: using more than one screen is not "
            "allowed and has been recorded."), "red")

    def _on_screen_removed(self, _screen: Any) -> None:
        if self.session.state not in (State.NEW, State.DONE):
            self.session.record_event("display_removed",
                                      {"count": len(QGuiApplication.screens())})
        if len(QGuiApplication.screens()) <= 1:
            self.banners.clear_banner("display")

    def _on_recorder_event(self, event: Any) -> None:
        if event.kind == "device_lost":
            self.banners.show_banner(f"device:{event.source}", _(
                "The {device} stopped working. Check its cable; recording resumes by itself "
                "when it is back.").format(device=_device_name(event.source)), "red")
        elif event.kind == "device_restored":
            self.banners.clear_banner(f"device:{event.source}")
        elif event.kind in ("disk_low", "disk_full"):
            self.banners.show_banner("disk", _("The disk is nearly full ({detail}). Free some "
                                               "space now.").format(detail=event.detail), "red")

    def _on_integrity_banner(self, key: str, text: str | None) -> None:
        if text:
            self.banners.show_banner(key, text, "red")
        else:
            self.banners.clear_banner(key)

    def _on_presence_hint(self, text: str | None) -> None:
        if text:
            self.banners.show_banner("presence", text, "orange")
        else:
            self.banners.clear_banner("presence")

    def _on_network(self, online: bool) -> None:
        self.net.setText(_("Online") if online else _("Offline"))
        self.net.setProperty("tone", "green" if online else "red")
        self.net.style().unpolish(self.net)
        self.net.style().polish(self.net)
        if online:
            self.banners.clear_banner("network")
        else:
            self.banners.show_banner("network", _(
                "The network is down. The exam, the recording and the saving of your answers "
                "go on; everything is sent when the network is back."), "orange")


def _device_name(source: str) -> str:
    return {"camera": _("camera"), "microphone": _("microphone"),
            "screen": _("screen capture")}.get(source, source)
