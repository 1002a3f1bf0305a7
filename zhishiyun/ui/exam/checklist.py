"""考前确认 for written exams, in the waiting room (interviews have 设备确认).

The manual's steps before a written exam: 个人信息确认 (who and which exam), the camera's
position with a live (mirrored) picture and the devices recorded, and 考试须知. Confirming
is recorded as an event for the organiser.
"""

from __future__ import annotations

from zhishiyun.i18n import _
from zhishiyun.ui.qt import QCheckBox, QHBoxLayout, QVBoxLayout, QWidget, Signal
from zhishiyun.ui.widgets import CardWidget, PreviewWidget, label


def exam_rules() -> list[str]:
    """考试须知 every written exam shares (the organiser's own are in the attachments)."""
    return [_("The screen, the camera and the microphone are recorded from entry to the "
              "end and uploaded to the organiser."),
            _("Do not switch to other windows or programs; leaving the exam window is "
              "recorded."),
            _("Keep your face in the picture, in good light, with nobody else in view."),
            _("Answers are saved as you type; press Submit answers once at the end.")]


class WrittenChecklistWidget(CardWidget):
    """Personal information, camera position and rules; ``confirmed`` once ticked."""

    confirmed = Signal()

    def __init__(self, candidate_name: str, exam_name: str, devices: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent, margins=20)
        self.setObjectName("writtenChecklist")
        self.body.addWidget(label(_("Before the start: please check"), "subtitle"))
        self.identity = label(_("Personal information: {name} · {exam}").format(
            name=candidate_name or "—", exam=exam_name), "", wrap=True, name="checkIdentity")
        self.body.addWidget(self.identity)
        row = QHBoxLayout()
        self.preview = PreviewWidget(_("Camera starting…"))
        self.preview.setObjectName("checkPreview")
        self.preview.mirror = True  # self-view only
        self.preview.setMinimumSize(160, 120)
        self.preview.setMaximumSize(240, 180)
        row.addWidget(self.preview)
        side = QVBoxLayout()
        side.addWidget(label(_("Camera position: your whole face, in the middle of the "
                               "picture, not against the light."), "muted", wrap=True))
        self.devices = label(devices, "muted", wrap=True, name="checkDevices")
        side.addWidget(self.devices)
        side.addStretch(1)
        row.addLayout(side, 1)
        self.body.addLayout(row)
        self.body.addWidget(label(_("Exam rules"), ""))
        self.rules = label("\n".join(f"{n}. {text}" for n, text in enumerate(exam_rules(), 1)),
                           "muted", wrap=True, name="checkRules")
        self.body.addWidget(self.rules)
        self.tick = QCheckBox(_("My information is correct, the camera shows me, and I have "
                                "read the exam rules"))
        self.tick.setObjectName("checkConfirm")
        self.tick.toggled.connect(self._on_toggled)
        self.body.addWidget(self.tick)

    def _on_toggled(self, checked: bool) -> None:
        if checked:
            self.tick.setEnabled(False)  # once: it is an event for the organiser
            self.confirmed.emit()
