"""One exam on 我的考试: its facts, attachments, recordings and action buttons.

:func:`enter_state` says on server time whether 进入考试 is allowed and why not;
:class:`ExamCardWidget` shows it with 抽签, 已阅并接受, 绑定手机 (second camera) and 进入考试.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from zhishiyun.i18n import N_, _
from zhishiyun.ui.model import as_time, countdown_text, duration_text, get, local_text, size_text
from zhishiyun.ui.qt import QGridLayout, QHBoxLayout, QProgressBar, QWidget, Signal
from zhishiyun.ui.widgets import CardWidget, button, label, tag

_STATE_TEXT = {"upcoming": (N_("Not yet open"), "gray"), "open": (N_("Entry open"), "green"),
               "in_progress": (N_("In progress"), "orange"), "finished": (N_("Finished"), "gray"),
               "missed": (N_("Missed"), "red")}


def enter_state(exam: Any, now: datetime) -> tuple[bool, str]:
    """Whether 进入考试 is allowed at ``now`` (server time) and, if not, why."""
    state = get(exam, "state", "")
    opens, closes = as_time(get(exam, "entry_opens_at")), as_time(get(exam, "entry_closes_at"))
    ends = as_time(get(exam, "ends_at"))
    if state in ("finished", "missed"):
        return False, _("This exam is over.")
    if state == "in_progress" and get(exam, "session_id") and (ends is None or now < ends):
        return True, _("You entered this exam already; you can return to it.")
    if get(exam, "lottery_required") and get(exam, "lottery_number") is None:
        return False, _("Draw your lot first.")
    if not get(exam, "accepted"):
        return False, _("Read and accept the exam rules first.")
    if opens and now < opens:
        return False, _("Entry opens in {left}.").format(
            left=countdown_text((opens - now).total_seconds()))
    if closes and now >= closes:
        return False, _("The entry time is over; you can no longer enter.")
    return True, _("Entry is open until {time}.").format(time=local_text(closes))



class ExamCardWidget(CardWidget):
    """One exam: facts, attachments, recordings and the three action buttons."""

    lottery_requested = Signal(object)
    accept_requested = Signal(object)
    enter_requested = Signal(object)
    download_requested = Signal(object, object)
    bind_phone_requested = Signal(object)

    def __init__(self, exam: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.exam = exam
        exam_id = get(exam, "id")
        self.setObjectName(f"exam_{exam_id}")
        top = QHBoxLayout()
        top.addWidget(label(get(exam, "name", ""), "subtitle", wrap=True), 1)
        interview = get(exam, "kind") == "interview"
        top.addWidget(tag(_("Interview") if interview else _("Written exam"),
                          "" if interview else "gray"))
        text, tone = _STATE_TEXT.get(get(exam, "state", ""), (get(exam, "state", ""), "gray"))
        top.addWidget(tag(_(text), tone))
        self.body.addLayout(top)

        grid = QGridLayout()
        grid.setHorizontalSpacing(24)
        grid.setVerticalSpacing(6)
        facts = [
            (_("Entry time"), _("{start} to {end}").format(
                start=local_text(get(exam, "entry_opens_at")),
                end=local_text(get(exam, "entry_closes_at")))),
            (_("Start time"), local_text(get(exam, "starts_at"))),
            (_("Duration"), duration_text(get(exam, "duration_s"))),
            (_("Recordings"), self._recordings_text()),
        ]
        for index, (name, value) in enumerate(facts):
            grid.addWidget(label(name, "muted"), index // 2, (index % 2) * 2)
            value_label = label(value, selectable=True, wrap=True)
            grid.addWidget(value_label, index // 2, (index % 2) * 2 + 1)
        self.recordings_label = value_label
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        self.body.addLayout(grid)

        attachments = get(exam, "attachments") or []
        if attachments:
            row = QHBoxLayout()
            row.addWidget(label(_("Attachments"), "muted"))
            self.progress = QProgressBar()
            self.progress.setMaximumWidth(160)
            self.progress.hide()
            for attachment in attachments:
                size = size_text(get(attachment, "size"))
                link = button(f"{get(attachment, 'filename')} ({size})", "link")
                link.clicked.connect(
                    lambda _c=False, a=attachment: self.download_requested.emit(self.exam, a))
                row.addWidget(link)
            row.addWidget(self.progress)
            row.addStretch(1)
            self.body.addLayout(row)
        else:
            self.progress = QProgressBar()

        if get(exam, "requires_second_camera"):  # the phone as second camera
            from zhishiyun.ui.second_camera_widget import SecondCameraNoticeWidget
            self.body.addWidget(SecondCameraNoticeWidget())
        actions = QHBoxLayout()
        self.reason = label("", "muted", wrap=True, name=f"reason_{exam_id}")
        actions.addWidget(self.reason, 1)
        self.lottery_button = button(_("Draw lot"), name=f"lottery_{exam_id}")
        self.accept_button = button(_("Read and accept"), name=f"accept_{exam_id}")
        self.enter_button = button(_("Enter exam"), "primary", name=f"enter_{exam_id}")
        self.bind_button = button(_("Bind phone"), name=f"bindPhone_{exam_id}")
        self.bind_button.clicked.connect(lambda: self.bind_phone_requested.emit(self.exam))
        self.lottery_button.clicked.connect(lambda: self.lottery_requested.emit(self.exam))
        self.accept_button.clicked.connect(lambda: self.accept_requested.emit(self.exam))
        self.enter_button.clicked.connect(lambda: self.enter_requested.emit(self.exam))
        number = get(exam, "lottery_number")
        if get(exam, "lottery_required"):
            if number is not None:
                self.lottery_button.setText(_("Lot No. {n}").format(n=number))
                self.lottery_button.setEnabled(False)
            actions.addWidget(self.lottery_button)
        else:
            self.lottery_button.hide()
        if get(exam, "accepted"):
            self.accept_button.setText(_("Accepted"))
            self.accept_button.setEnabled(False)
        actions.addWidget(self.accept_button)
        if get(exam, "requires_second_camera"):
            actions.addWidget(self.bind_button)
        else:
            self.bind_button.hide()
        actions.addWidget(self.enter_button)
        self.body.addLayout(actions)

    def _recordings_text(self) -> str:
        recordings = get(self.exam, "recordings") or []
        if not recordings:
            return _("None yet")
        parts = []
        for recording in recordings:
            tracks = get(recording, "tracks") or {}
            segments = sum(int(get(t, "segments", 0)) for t in tracks.values())
            size = sum(int(get(t, "bytes", 0)) for t in tracks.values())
            parts.append(_("{n} segments uploaded ({size})").format(n=segments,
                                                                    size=size_text(size)))
        return "; ".join(parts)

    def set_local_uploads(self, totals: dict[str, int]) -> None:
        """Add what this computer still has to upload for the exam (from the queue)."""
        left = int(totals.get("items_total", 0)) - int(totals.get("items_done", 0))
        failed = int(totals.get("items_failed", 0))
        parts = [self._recordings_text()]
        if left > 0:
            parts.append(_("{n} parts still to upload from this computer").format(n=left))
        if failed:
            parts.append(_("{n} uploads failed; keep Zhishiyun open on the network, they are "
                           "retried").format(n=failed))
        if totals.get("items_total") and not left and not failed:
            parts.append(_("everything uploaded"))
        self.recordings_label.setText("; ".join(parts))

    def update_clock(self, now: datetime) -> None:
        """Re-evaluate the enter button for server time ``now``."""
        allowed, why = enter_state(self.exam, now)
        if get(self.exam, "lottery_required") and get(self.exam, "lottery_number") is None:
            self.lottery_button.setEnabled(get(self.exam, "state") not in ("finished", "missed"))
        self.accept_button.setEnabled(not get(self.exam, "accepted")
                                      and get(self.exam, "state") not in ("finished", "missed"))
        self.enter_button.setEnabled(allowed)
        # The phone can be set up from the card once entering is possible, before entering.
        bindable = allowed and get(self.exam, "state") == "open"
        self.bind_button.setEnabled(bindable)
        self.bind_button.setToolTip("" if bindable else _(
            "The phone can be bound here once you may enter the exam."))
        self.reason.setText(why)
