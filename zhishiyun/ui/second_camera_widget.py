"""The second camera panel: QR code + bind code for the phone, and the phone's live status.

:class:`SecondCameraWidget` drives a :class:`~zhishiyun.exam.second_camera.SecondCameraMonitor`
(bind code and status polling off the UI thread; status arrives here through ``on_main``).
:class:`SecondCameraNoticeWidget` is what the exam card shows before entry (a bind code
belongs to an exam session, which entering creates). :func:`attach_to_exam_window` adds the
panel to the exam window's side column when the exam requires a second camera.
"""

from __future__ import annotations

import io
import logging
from datetime import datetime, timezone
from typing import Any

import segno

from zhishiyun.exam.second_camera import BindCode, SecondCameraMonitor, SecondCameraStatus
from zhishiyun.i18n import _
from zhishiyun.ui.errors import message_for
from zhishiyun.ui.model import get
from zhishiyun.ui.qt import (
    QDialog,
    QGuiApplication,
    QLabel,
    QPixmap,
    Qt,
    QTimer,
    QVBoxLayout,
    QWidget,
)
from zhishiyun.ui.tasks import on_main, run_task
from zhishiyun.ui.widgets import button, label, retone, scrolling_layout, tag

log = logging.getLogger(__name__)
#: QR code width on short screens (a phone still reads it from 30 cm).
COMPACT_QR = 120

def guide_text() -> str:
    """Where the phone goes (the manuals' framing rule)."""
    return _("Place the phone 1–1.5 m behind you, to the left or right, so that you, your "
             "desk and the whole screen are in view.")


def qr_pixmap(payload: str, size: int) -> QPixmap:
    """A QR code of ``payload`` as a pixmap about ``size`` pixels wide (segno, level M)."""
    code = segno.make(payload, error="m")
    modules = code.symbol_size(scale=1, border=4)[0]  # 4 modules of quiet zone (the standard)
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=max(1, size // modules), border=4)
    pixmap = QPixmap()
    pixmap.loadFromData(buffer.getvalue(), "PNG")
    return pixmap


def age_text(seconds: float | None) -> str:
    """"just now", "12 s ago", "3 min ago"."""
    if seconds is None:
        return ""
    if seconds < 3:
        return _("just now")
    if seconds < 120:
        return _("{n} s ago").format(n=int(seconds))
    return _("{n} min ago").format(n=int(seconds // 60))


def status_texts(status: SecondCameraStatus) -> tuple[str, str, str]:
    """(tag text, tone, detail line) for a status."""
    text, tone = {
        "not_bound": (_("Phone not bound"), "gray"), "bound": (_("Phone bound"), "green"),
        "recording": (_("Phone recording"), "green"), "lost": (_("Second camera lost"), "red"),
    }[status.state]
    details = []
    if status.last_upload_at is not None:
        details.append(_("Last upload {age}").format(age=age_text(status.last_upload_age_s)))
    if status.state == "lost":
        details.append(_("The phone stopped answering: check its network and that the page "
                         "is open, or bind it again with the new code."))
    elif status.hidden:
        details.append(_("The phone page is in the background: bring it to the front."))
    if status.buffered:
        details.append(_("{n} chunks waiting on the phone").format(n=status.buffered))
    if status.error:
        details.append(_("Status not updated: this computer is offline."))
    return text, tone, "\n".join(details)


class SecondCameraNoticeWidget(QWidget):
    """On the exam card before entry: this exam needs a phone as a second camera."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("secondCameraNotice")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(tag(_("Second camera required"), "orange"))
        layout.addWidget(label(_("Have your phone ready, charged and online. Once the entry "
                                 "time has begun you can bind it here with Bind phone, or "
                                 "after you enter in the exam window: scan the QR code with "
                                 "it (no app needed). ") + guide_text(), "muted", wrap=True))


class SecondCameraWidget(QWidget):
    """QR code, bind code and live status of one session's second camera.

    Args:
        client: the logged-in ServerClient.
        session_id: the entered exam session; None on the exam card before entering, with
            ``exam_id`` (the binding then joins the session when the candidate enters).
        record_event: the exam core's ``record_event`` (status changes become events).
        qr_size: QR code width in pixels.
        poll_seconds: how often the status is read.
    """

    def __init__(self, client: Any, session_id: str | None, *, record_event: Any = None,
                 qr_size: int = 180, poll_seconds: float = 2.0, exam_id: int | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("secondCameraPanel")
        self.monitor = SecondCameraMonitor(client, session_id, record_event=record_event,
                                           poll_seconds=poll_seconds, exam_id=exam_id)
        self.bind_code: BindCode | None = None
        self.status = SecondCameraStatus()
        self.qr_size = self.full_qr_size = qr_size
        self._requesting = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(label(_("Second camera (phone)"), "subtitle"))
        self.state_tag = tag(_("Phone not bound"), "gray")
        self.state_tag.setObjectName("secondCameraState")
        layout.addWidget(self.state_tag)
        self.detail = label("", "muted", wrap=True, name="secondCameraDetail")
        layout.addWidget(self.detail)
        self.qr = QLabel(_("Getting a bind code…"))
        self.qr.setObjectName("secondCameraQr")
        self.qr.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.qr.setMinimumSize(qr_size, qr_size)
        layout.addWidget(self.qr, 0, Qt.AlignmentFlag.AlignHCenter)
        self.code = label("", "title", selectable=True, name="secondCameraCode")
        self.code.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.code)
        self.how = label("", "muted", wrap=True, selectable=True, name="secondCameraHow")
        layout.addWidget(self.how)
        self.new_code = button(_("New code"), name="secondCameraNewCode")
        self.new_code.clicked.connect(self.request_code)
        layout.addWidget(self.new_code)
        layout.addStretch(1)
        self._relay = on_main(self._on_status)
        self.monitor.second_camera_did_update.append(self._relay)
        self.timer = QTimer(self)
        self.timer.setInterval(1000)
        self.timer.timeout.connect(self._on_tick)
        monitor = self.monitor
        self.destroyed.connect(lambda *_args: monitor.stop(timeout=0.5))

    def set_compact(self, compact: bool) -> None:
        """A smaller QR code on short screens (still scannable: level M, quiet zone kept)."""
        size = COMPACT_QR if compact else self.full_qr_size
        if size == self.qr_size:
            return
        self.qr_size = size
        self.qr.setMinimumSize(0, 0)
        if self.bind_code is not None:
            self._show_qr(self.bind_code)

    def _show_qr(self, code: BindCode) -> None:
        pixmap = qr_pixmap(code.qr_payload, self.qr_size)
        self.qr.setPixmap(pixmap)
        self.qr.setFixedSize(pixmap.size())

    def start(self) -> None:
        """Ask for a code and start following the phone (both off the UI thread)."""
        self.monitor.start()
        self.timer.start()
        self.request_code()

    def stop(self) -> None:
        """Stop following the phone."""
        self.timer.stop()
        self.monitor.stop(timeout=0.5)

    def request_code(self) -> None:
        """Get a fresh bind code (the previous unused one stops working)."""
        if self._requesting:
            return
        self._requesting = True
        self.new_code.setEnabled(False)
        run_task(self.monitor.create_code, self._on_code)

    def _on_code(self, code: BindCode | None, error: BaseException | None) -> None:
        self._requesting = False
        self.new_code.setEnabled(True)
        if error is not None:
            self.qr.clear()
            self.qr.setText(_("No bind code: {error}").format(error=message_for(error)))
            return
        self.bind_code = code
        self._show_qr(code)
        self.code.setText(code.code)
        base = code.url.split("#", 1)[0]
        self.how.setText(_("Scan the code with the phone's camera, or open {url} on the phone "
                           "and type the code. ").format(url=base) + guide_text())
        self._on_tick()

    def _on_status(self, status: SecondCameraStatus) -> None:
        self.status = status
        text, tone, detail = status_texts(status)
        retone(self.state_tag, text, tone)
        self.detail.setText(detail)
        self.detail.setVisible(bool(detail))
        # The code is only needed until a phone holds the binding (and again if it is lost).
        need_code = status.state in ("not_bound", "lost")
        for widget in (self.qr, self.code, self.how):
            widget.setVisible(need_code)
        self.new_code.setText(_("New code") if need_code else _("Bind another phone"))

    def _on_tick(self) -> None:
        code = self.bind_code
        if code is None or not self.qr.isVisible():
            return
        left = (code.expires_at - datetime.now(timezone.utc)).total_seconds()
        if left <= 0:
            self.qr.clear()
            self.qr.setText(_("The code expired."))
            self.code.setText("")
            self.bind_code = None
            self.request_code()


class PhoneBindDialog(QDialog):
    """绑定手机 from the exam card: the bind code and the phone's state, before entering.

    The binding carries into the exam: once the candidate enters, the exam window's panel
    shows the phone bound and the phone may start recording.
    """

    def __init__(self, client: Any, exam: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("phoneBindDialog")
        self.setWindowTitle(_("Bind phone"))
        box = QVBoxLayout(self)
        holder = QWidget()
        inner = scrolling_layout(holder)  # a short screen (150 %) scrolls, nothing is cut
        inner.addWidget(label(get(exam, "name", ""), "subtitle", wrap=True))
        self.panel = SecondCameraWidget(client, None, exam_id=int(get(exam, "id")),
                                        qr_size=200)
        inner.addWidget(self.panel, 1)
        box.addWidget(holder, 1)
        close = button(_("Close"), name="phoneBindClose")
        close.clicked.connect(self.close)
        self.close_button = close
        box.addWidget(close, 0, Qt.AlignmentFlag.AlignRight)
        self.setMinimumSize(360, 320)
        screen = (parent.screen() if parent is not None else None) or \
            QGuiApplication.primaryScreen()
        room = screen.availableGeometry() if screen is not None else None
        self.resize(min(480, room.width() - 40) if room else 480,
                    min(660, room.height() - 60) if room else 660)
        self.panel.start()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        """Stop following the phone (the binding stays; the exam window follows it on)."""
        self.panel.stop()
        super().closeEvent(event)


def attach_to_exam_window(exam_window: Any) -> None:
    """Add the panel to the exam window's side column if the exam requires a second camera.

    Asks the server for the exam (off the UI thread), waits until the session is entered,
    then puts the panel in the window's side-panel slot; it stops when the window is left.
    """
    session = exam_window.session
    client = session.client

    def required() -> bool:
        return bool(getattr(client.exam(session.exam_id), "requires_second_camera", False))

    def checked(needed: Any, error: BaseException | None) -> None:
        present = any(isinstance(p, SecondCameraWidget) for p in exam_window.side_panels)
        if error is not None or not needed or present:
            if error is not None:
                log.info("second camera requirement unknown: %s", error)
            return
        try:
            if not exam_window.isVisible() and session.session_id:
                return  # the window was left meanwhile
        except RuntimeError:  # the window was deleted meanwhile
            return
        if not session.session_id:  # entering is still under way
            QTimer.singleShot(500, lambda: checked(needed, None))
            return
        panel = SecondCameraWidget(client, session.session_id,
                                   record_event=session.record_event, qr_size=160)
        exam_window.add_side_panel(panel)
        exam_window.left.connect(lambda _how: panel.stop())
        panel.start()

    run_task(required, checked)
