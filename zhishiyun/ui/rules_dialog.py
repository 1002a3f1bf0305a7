"""阅读须知: the exam rules, read and accepted before entering."""

from __future__ import annotations

from typing import Any

from zhishiyun.i18n import _
from zhishiyun.ui.model import get
from zhishiyun.ui.qt import QCheckBox, QDialog, QTextBrowser, QVBoxLayout, QWidget
from zhishiyun.ui.widgets import button, label


def recording_notice(exam: Any) -> str:
    """When the recording runs: a written exam records from its 考前确认, others from entry."""
    if get(exam, "kind", "") == "written":
        return _("From the pre-exam confirmation to the end of the exam, your screen, camera "
                 "and microphone are recorded and uploaded. Use one monitor only.")
    return _("From entering the exam to its end, your screen, camera and microphone are "
             "recorded and uploaded. Use one monitor only.")


class RulesDialog(QDialog):
    """Shows the rules; "accept" is possible only after ticking "I have read them"."""

    def __init__(self, exam: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(_("Exam rules"))
        self.setMinimumSize(620, 460)
        box = QVBoxLayout(self)
        box.setContentsMargins(24, 20, 24, 20)
        box.addWidget(label(get(exam, "name", ""), "subtitle", wrap=True))
        self.text = QTextBrowser()
        rules = get(exam, "rules") or _("Follow the instructions of the exam organiser.")
        self.text.setPlainText(rules)
        box.addWidget(self.text, 1)
        box.addWidget(label(recording_notice(exam), "muted", wrap=True))
        self.read_box = QCheckBox(_("I have read the rules and the attachments and accept them"))
        self.read_box.setObjectName("rulesRead")
        box.addWidget(self.read_box)
        self.accept_button = button(_("Accept"), "primary", name="rulesAccept")
        self.accept_button.setEnabled(False)
        self.read_box.toggled.connect(self.accept_button.setEnabled)
        self.accept_button.clicked.connect(self.accept)
        cancel = button(_("Cancel"))
        cancel.clicked.connect(self.reject)
        from zhishiyun.ui.qt import QHBoxLayout

        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(cancel)
        row.addWidget(self.accept_button)
        box.addLayout(row)
