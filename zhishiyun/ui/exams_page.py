"""Home: 我的考试 — exam cards with 抽签, 已阅并接受 and 进入考试 (enabled on server time).

The cards are :class:`~zhishiyun.ui.exam_card.ExamCardWidget`; this page loads them, keeps
the candidate's place in the list across a refresh and runs the cards' actions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from zhishiyun.i18n import _
from zhishiyun.ui.errors import message_for
from zhishiyun.ui.exam_card import ExamCardWidget, enter_state
from zhishiyun.ui.model import as_time, get
from zhishiyun.ui.qt import (
    QDesktopServices,
    QMessageBox,
    QScrollArea,
    Qt,
    QTimer,
    QUrl,
    QVBoxLayout,
    QWidget,
    Signal,
)
from zhishiyun.ui.rules_dialog import RulesDialog
from zhishiyun.ui.style import set_variant
from zhishiyun.ui.tasks import on_main, run_quick, run_task
from zhishiyun.ui.widgets import PageWidget, button, label

__all__ = ["ExamCardWidget", "ExamsWidget", "download_attachment", "enter_state"]
log = logging.getLogger(__name__)
ServerNow = Callable[[], datetime]

class _Anchor(NamedTuple):
    """Where the card the candidate acted on was: its top in the viewport, the focus."""

    exam_id: Any
    top: int
    focus: str


def _display_order(exam: Any) -> tuple[int, str]:
    """Open and running exams first, then upcoming ones, then the past; soonest first."""
    rank = {"in_progress": 0, "open": 0, "upcoming": 1}.get(get(exam, "state", ""), 2)
    opens = as_time(get(exam, "entry_opens_at"))
    return rank, opens.isoformat() if opens else ""


def download_attachment(client: Any, attachment: Any, directory: Path,
                        progress: Callable[[int, int], None]) -> Path:
    """Stream an attachment into ``directory`` (safe name), reporting bytes as they arrive.

    Runs on a worker thread; ``progress(done, total)`` must be thread-safe (``on_main``).
    The API client's one downloader does the work (size cap, deadline, safe name).
    """
    from zhishiyun.api.models import Attachment

    if not isinstance(attachment, Attachment):
        attachment = Attachment.model_validate(attachment)
    return client.save_attachment(attachment, directory, progress)


class ExamsWidget(PageWidget):
    """The exam list; refreshes itself when an entry window opens (server time)."""

    enter_requested = Signal(object)
    exams_changed = Signal(list)

    def __init__(self, client: Any, server_now: ServerNow, download_dir: Path,
                 upload_totals: Callable[[str], dict[str, int]] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(_("My exams"), parent)
        self._client = client
        self._upload_totals = upload_totals
        self._server_now = server_now
        self._download_dir = download_dir
        self._cards: list[ExamCardWidget] = []
        self._loading = False
        self._opening_at: list[datetime] = []
        self._flash: tuple[str, str] | None = None
        self._anchor: _Anchor | None = None
        self.bind_dialog: QWidget | None = None
        self.refresh_button = button(_("Refresh"), name="refreshExams")
        self.refresh_button.clicked.connect(self.refresh)
        self.title_row.addWidget(self.refresh_button)
        self.notice = label(_("Draw your lot (interviews) and accept the rules before you "
                              "enter. “Enter exam” becomes available by itself when the entry "
                              "time comes; if not, press Refresh."), "muted", wrap=True)
        self.content.addWidget(self.notice)
        self.status = label("", "muted", wrap=True, name="examsStatus")
        # The status line keeps its room when empty, so a message after 抽签 or 已阅并接受
        # does not push the cards down under the candidate's pointer.
        self.status.setMinimumHeight(self.status.fontMetrics().lineSpacing())
        self.content.addWidget(self.status)
        self.cards_box = QVBoxLayout()
        self.cards_box.setSpacing(14)
        self.content.addLayout(self.cards_box)
        self.content.addStretch(1)
        self.timer = QTimer(self)
        self.timer.setInterval(1000)
        self.timer.timeout.connect(self._on_tick)
        self.timer.start()

    def cards(self) -> list[ExamCardWidget]:
        """The cards shown now."""
        return list(self._cards)

    def card(self, exam_id: Any) -> ExamCardWidget | None:
        """The card of one exam."""
        return next((c for c in self._cards if get(c.exam, "id") == exam_id), None)

    def refresh(self) -> None:
        """Reload the exam list from the server (in the background)."""
        if self._loading:
            return
        self._loading = True
        self.refresh_button.setEnabled(False)
        self._say(_("Loading your exams…"), "muted")
        client = self._client
        run_task(client.exams, self._on_exams_loaded)

    def _on_exams_loaded(self, exams: Any, error: BaseException | None) -> None:
        self._loading = False
        self.refresh_button.setEnabled(True)
        anchor, self._anchor = self._anchor, None
        if error is not None:
            self._show_error(error)
            return
        exams = sorted(get(exams, "exams", exams) or [], key=_display_order)
        if self._flash is not None:
            self._say(*self._flash)
            self._flash = None
        else:
            self._say("" if exams else _("You have no exams."), "muted")
        self._show_cards(exams)
        now = self._server_now()
        self._opening_at = [t for t in (as_time(get(e, "entry_opens_at")) for e in exams)
                            if t is not None and t > now]
        self._on_tick()
        if anchor is not None:
            self._restore(anchor)
        self.exams_changed.emit(exams)
        sessions = [str(get(e, "session_id")) for e in exams if get(e, "session_id")]
        if self._upload_totals is not None and sessions:
            totals = self._upload_totals
            run_quick(lambda: {sid: totals(sid) for sid in sessions}, self._on_upload_totals)

    def _show_cards(self, exams: list) -> None:
        """Put one card per exam in the list; a card is swapped in its own place."""
        same_list = [get(e, "id") for e in exams] == [get(c.exam, "id") for c in self._cards]
        cards = []
        for index, exam in enumerate(exams):
            card = ExamCardWidget(exam)
            card.lottery_requested.connect(self._on_lottery_requested)
            card.accept_requested.connect(self._on_accept_requested)
            card.enter_requested.connect(self.enter_requested.emit)
            card.download_requested.connect(self._on_download_requested)
            card.bind_phone_requested.connect(self._on_bind_phone_requested)
            if same_list:
                old = self._cards[index]
                self.cards_box.replaceWidget(old, card)
                old.setParent(None)
                old.deleteLater()
            else:
                self.cards_box.addWidget(card)
            card.show()  # now, not on the next turn of the loop: its place is measured next
            cards.append(card)
        if not same_list:
            for old in self._cards:
                old.setParent(None)
                old.deleteLater()
        self._cards = cards

    # --- keeping the candidate's place --------------------------------------------------

    def _scroll_area(self) -> QScrollArea | None:
        return self.findChild(QScrollArea)

    def _remember(self, exam: Any) -> None:
        """Note where the card of ``exam`` is on screen and what has the focus in it."""
        card, scroll = self.card(get(exam, "id")), self._scroll_area()
        if card is None or scroll is None:
            return
        focused = self.focusWidget()
        inside = focused is not None and card.isAncestorOf(focused)
        top = card.mapTo(scroll.viewport(), card.rect().topLeft()).y()
        self._anchor = _Anchor(get(exam, "id"), top, focused.objectName() if inside else "")

    def _restore(self, anchor: _Anchor) -> None:
        """Scroll so that the acted-on card stays where it was, and give its focus back."""
        card, scroll = self.card(anchor.exam_id), self._scroll_area()
        if card is None or scroll is None:
            return
        body = scroll.widget()
        if body is not None and body.layout() is not None:
            body.layout().activate()  # the new cards' positions, now rather than later
        top = card.mapTo(scroll.viewport(), card.rect().topLeft()).y()
        bar = scroll.verticalScrollBar()
        bar.setValue(bar.value() + top - anchor.top)
        target = card.findChild(QWidget, anchor.focus) if anchor.focus else None
        choices = [target, card.enter_button, card.accept_button, card.lottery_button]
        usable = next((w for w in choices if w is not None and w.isVisible()
                       and w.isEnabled()), None)
        if usable is None:
            card.setFocusPolicy(Qt.FocusPolicy.TabFocus)
            usable = card
        usable.setFocus(Qt.FocusReason.OtherFocusReason)

    def _on_upload_totals(self, totals: Any, error: BaseException | None) -> None:
        if error is not None:
            log.info("upload queue unreadable: %r", error)
            return
        for card in self._cards:
            sid = get(card.exam, "session_id")
            if sid and str(sid) in totals:
                card.set_local_uploads(totals[str(sid)])

    def _on_tick(self) -> None:
        now = self._server_now()
        for card in self._cards:
            card.update_clock(now)
        if any(t <= now for t in self._opening_at):
            log.info("an entry window opened: refreshing the exam list")
            self._opening_at = [t for t in self._opening_at if t > now]
            self.refresh()

    # --- actions ---------------------------------------------------------------------------

    def _on_lottery_requested(self, exam: Any) -> None:
        answer = QMessageBox.question(
            self, _("Draw lot"),
            _("Draw your lot for “{name}” now? The number cannot be changed later. It is "
              "only used later in the exam: you do not need to wait to be called.").format(
                name=get(exam, "name")))
        if answer != QMessageBox.StandardButton.Yes:
            return
        self._remember(exam)
        client, exam_id = self._client, get(exam, "id")
        run_task(lambda: client.draw_lot(exam_id), self._on_lottery_done)

    def _on_lottery_done(self, reply: Any, error: BaseException | None) -> None:
        if error is not None:
            self._show_error(error)
            return
        self._flash = (_("Your lot number is {n}.").format(n=get(reply, "lottery_number")), "ok")
        self.refresh()

    def _on_accept_requested(self, exam: Any) -> None:
        dialog = RulesDialog(exam, self)
        if dialog.exec() != RulesDialog.DialogCode.Accepted:
            return
        self._remember(exam)
        client, exam_id = self._client, get(exam, "id")
        run_task(lambda: client.accept(exam_id), self._on_accept_done)

    def _on_accept_done(self, _reply: Any, error: BaseException | None) -> None:
        if error is not None:
            self._show_error(error)
            return
        self.refresh()

    def _on_bind_phone_requested(self, exam: Any) -> None:
        from zhishiyun.ui.second_camera_widget import PhoneBindDialog

        if self.bind_dialog is not None:
            self.bind_dialog.close()
        self.bind_dialog = PhoneBindDialog(self._client, exam, self)
        self.bind_dialog.show()

    def _on_download_requested(self, exam: Any, attachment: Any) -> None:
        card = self.card(get(exam, "id"))
        directory = self._download_dir / str(get(exam, "id"))
        progress = card.progress if card else None
        if progress is not None:
            progress.setRange(0, max(1, int(get(attachment, "size", 0) or 1)))
            progress.setValue(0)
            progress.show()

        def report(done: int, total: int | None = None) -> None:
            if progress is not None:
                if total:
                    progress.setMaximum(int(total))
                progress.setValue(int(done))

        relay = on_main(report)
        client = self._client
        run_task(lambda: download_attachment(client, attachment, directory, relay),
                 lambda target, error: self._on_download_done(target, progress, error))

    def _on_download_done(self, target: Any, progress: Any, error: BaseException | None) -> None:
        if progress is not None:
            progress.hide()
        if error is not None:
            self._show_error(error)
            return
        self._say(_("Saved to {path}").format(path=target), "ok")
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(target)))

    def _show_error(self, error: BaseException) -> None:
        self._say(message_for(error), "error")

    def _say(self, text: str, role: str) -> None:
        self.status.setText(text)
        set_variant(self.status, "role", role)
