"""The exam window's side column, with 交卷 / 结束考试 pinned under it.

It holds the camera picture, the candidate, the countdown and the side panels (the phone
as second camera); a short window scrolls it and gets a smaller picture.
"""

from __future__ import annotations

from zhishiyun.i18n import _
from zhishiyun.ui.qt import QScrollArea, Qt, QVBoxLayout, QWidget
from zhishiyun.ui.widgets import CardWidget, PreviewWidget, button, label

#: Below this height (logical pixels) the side column shrinks its picture and QR code.
COMPACT_HEIGHT = 700


class SideColumnMixin:
    """The side column of :class:`~zhishiyun.ui.exam.window.ExamWindow`.

    Needs ``session``, ``side_panels``, ``_on_submit``, ``_on_end`` and ``go_full_screen``.
    """

    def _build_side(self, candidate_name: str) -> QWidget:
        side = CardWidget(margins=14)
        side.setFixedWidth(300)
        # A short window (1366×768 at 150 % leaves 512 logical pixels) scrolls the column;
        # the hand-in buttons stay under it, always in view.
        column = QWidget()
        column.setObjectName("sideColumn")
        box = QVBoxLayout(column)
        box.setContentsMargins(0, 0, 0, 0)
        self.side_scroll = QScrollArea()
        self.side_scroll.setObjectName("sideScroll")
        self.side_scroll.setWidgetResizable(True)
        self.side_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.side_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.side_scroll.setWidget(column)
        self.side_scroll.setStyleSheet("QScrollArea, QWidget#sideColumn { background: "
                                       "transparent; }")  # the card's white shows through
        self.side_scroll.viewport().setAutoFillBackground(False)
        side.body.addWidget(self.side_scroll, 1)
        self.preview = PreviewWidget(_("Camera starting…"))
        self.preview.setObjectName("examPreview")
        self.preview.mirror = True  # self-view only: the recording is not mirrored
        self.preview.setMinimumSize(200, 110)
        self.preview.setMaximumHeight(200)
        box.addWidget(self.preview)
        box.addWidget(label(candidate_name, "subtitle", name="candidateName"))
        self.phase = label("", "muted", name="phaseLabel")
        box.addWidget(self.phase)
        self.countdown = label("--:--:--", "title", name="examCountdown")
        self.countdown.setStyleSheet("font-size: 32px;")
        box.addWidget(self.countdown)
        self.side_slot = QVBoxLayout()
        self.side_slot.setContentsMargins(0, 0, 0, 0)
        box.addLayout(self.side_slot)
        box.addStretch(1)
        self.submit_button = button(_("Submit answers"), "primary", name="submitButton")
        self.submit_button.clicked.connect(self._on_submit)
        self.submit_button.hide()  # shown once the exam has started (_show_state)
        self.end_button = button(_("End exam"), "danger", name="endButton")
        self.end_button.clicked.connect(self._on_end)
        self.end_button.hide()
        self.full_button = button(_("Back to full screen"), name="fullScreenButton")
        self.full_button.clicked.connect(self.go_full_screen)
        self.full_button.hide()
        for widget in (self.full_button, self.submit_button, self.end_button):
            side.body.addWidget(widget)
        return side

    def add_side_panel(self, panel: QWidget) -> None:
        """Show ``panel`` in the side column under the countdown (e.g. the second camera)."""
        self.side_slot.addWidget(panel)
        self.side_panels.append(panel)
        self._fit_height()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        """Short screens get a smaller picture, countdown and phone QR code."""
        super().resizeEvent(event)
        self._fit_height()

    def _fit_height(self) -> None:
        compact = self.height() < COMPACT_HEIGHT
        self.preview.setMaximumHeight(120 if compact else 200)
        self.countdown.setStyleSheet("font-size: 24px;" if compact else "font-size: 32px;")
        for panel in self.side_panels:
            set_compact = getattr(panel, "set_compact", None)
            if set_compact is not None:
                set_compact(compact)
