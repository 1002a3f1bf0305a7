"""Answer fields, one per question, autosaved locally at once (and queued for the server)."""

from __future__ import annotations

from collections.abc import Callable

from zhishiyun.i18n import _
from zhishiyun.ui.qt import (
    QFrame,
    QPlainTextEdit,
    QScrollArea,
    QTimer,
    QVBoxLayout,
    QWidget,
)
from zhishiyun.ui.widgets import label

#: Save this long after the last keystroke (the local save itself is instant).
SAVE_DELAY_MS = 400


class AnswerPanelWidget(QWidget):
    """A scrollable column of answer boxes.

    Args:
        save: ``save(question_id, text)`` — the session's local save (fast, any thread).
    """

    def __init__(self, save: Callable[[str, str], object],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._save = save
        self.fields: dict[str, QPlainTextEdit] = {}
        self._dirty: set[str] = set()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SAVE_DELAY_MS)
        self._timer.timeout.connect(self.save_now)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(label(_("Answers"), "subtitle"))
        self.status = label(_("Your answers are saved on this computer as you type and sent "
                              "to the server in the background."), "muted", wrap=True,
                            name="answerStatus")
        outer.addWidget(self.status)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        body = QWidget()
        self.column = QVBoxLayout(body)
        self.column.setSpacing(8)
        scroll.setWidget(body)
        outer.addWidget(scroll, 1)

    def set_questions(self, question_ids: list[str], saved: dict[str, str]) -> None:
        """One box per question, filled with what was saved before (resume)."""
        for qid in question_ids or ["1"]:
            if qid in self.fields:
                continue
            self.column.addWidget(label(_("Question {n}").format(n=qid), "", name=f"q{qid}"))
            box = QPlainTextEdit()
            box.setObjectName(f"answer_{qid}")
            box.setPlaceholderText(_("Type your answer to question {n} here").format(n=qid))
            box.setAccessibleName(_("Question {n}").format(n=qid))
            box.setMinimumHeight(110)
            box.setPlainText(saved.get(qid, ""))
            box.textChanged.connect(lambda q=qid: self._changed(q))
            self.fields[qid] = box
            self.column.addWidget(box)
        self.column.addStretch(1)

    def _changed(self, qid: str) -> None:
        self._dirty.add(qid)
        self._timer.start()

    def save_now(self) -> None:
        """Save every changed box now (also before submitting or leaving)."""
        for qid in sorted(self._dirty):
            self._save(qid, self.fields[qid].toPlainText())
        if self._dirty:
            self.status.setText(_("All answers saved on this computer."))
        self._dirty.clear()

    def unanswered(self) -> list[str]:
        """Questions whose box is empty."""
        return [q for q, box in self.fields.items() if not box.toPlainText().strip()]

    def set_read_only(self, read_only: bool) -> None:
        """Lock the boxes after the end."""
        for box in self.fields.values():
            box.setReadOnly(read_only)
