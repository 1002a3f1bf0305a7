"""考前确认 for written exams, before anything is recorded (interviews have 设备确认).

The manual's steps before a written exam: 个人信息确认 (who and which exam), the camera's
position with a live (mirrored) picture, the devices that will record (the candidate's
choice from 设备检测 or face login, changeable here) and 考试须知. Only the confirmation
starts the recording (:meth:`~zhishiyun.exam.session.ExamSession.confirm_and_record`);
until then the live picture comes from the page's own
:class:`~zhishiyun.ui.live_preview.LivePreview`, which lets go of the devices first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zhishiyun.capture.device_names import camera_name, microphone_name
from zhishiyun.i18n import _
from zhishiyun.ui.qt import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QProgressBar,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)
from zhishiyun.ui.widgets import CardWidget, PreviewWidget, button, label, scrolling_layout


def exam_rules() -> list[str]:
    """考试须知 every written exam shares (the organiser's own are in the attachments)."""
    return [_("From your confirmation to the end of the exam, the screen, the camera and "
              "the microphone are recorded and uploaded to the organiser."),
            _("Do not switch to other windows or programs; leaving the exam window is "
              "recorded."),
            _("Keep your face in the picture, in good light, with nobody else in view."),
            _("Answers are saved as you type; press Submit answers once at the end.")]


def fill_picker(box: QComboBox, items: list[tuple[str, Any]], current: Any,
                name: Callable[[Any], str]) -> None:
    """Fill ``box`` with ``(name, value)`` pairs and select ``current``.

    A ``current`` device the list lacks (a video file standing in, a device unplugged
    since) is added under ``name(current)``.
    """
    box.blockSignals(True)
    box.clear()
    for text, value in items:
        box.addItem(text, value)
    found = box.findData(current)
    if found < 0 and (current is not None or not items):
        box.addItem(name(current), current)
        found = box.count() - 1
    box.setCurrentIndex(max(0, found))
    box.blockSignals(False)


class WrittenConfirmWidget(QWidget):
    """Personal information, camera position and devices, rules; recording starts after it.

    ``devices_chosen(camera, microphone)`` fires when the candidate picks other devices (the
    live picture follows); ``confirmed(camera, microphone)`` when they confirm.
    """

    devices_chosen = Signal(object, object)
    confirmed = Signal(object, object)

    def __init__(self, candidate_name: str, exam_name: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("writtenConfirm")
        outer = scrolling_layout(self)
        outer.setContentsMargins(24, 16, 24, 16)
        outer.addWidget(label(_("Before the start: please check"), "title"))
        outer.addWidget(label(_("Nothing is recorded yet: the recording starts when you "
                                "confirm."), "muted", wrap=True, name="confirmNote"))
        card = CardWidget(margins=20)
        self.identity = label(_("Personal information: {name} · {exam}").format(
            name=candidate_name or "—", exam=exam_name), "subtitle", wrap=True,
            name="checkIdentity")
        card.body.addWidget(self.identity)
        row = QHBoxLayout()
        self.preview = PreviewWidget(_("Camera starting…"))
        self.preview.setObjectName("checkPreview")
        self.preview.mirror = True  # self-view only: the recording is not mirrored
        self.preview.setMinimumSize(160, 120)
        self.preview.setMaximumSize(360, 270)
        row.addWidget(self.preview, 3)
        side = QVBoxLayout()
        side.addWidget(label(_("Camera position: your whole face, in the middle of the "
                               "picture, not against the light."), "muted", wrap=True))
        grid = QGridLayout()
        self.camera_box = QComboBox()
        self.camera_box.setObjectName("checkCamera")
        self.mic_box = QComboBox()
        self.mic_box.setObjectName("checkMic")
        for box in (self.camera_box, self.mic_box):  # long device names must not widen the page
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(8)
        self.level = QProgressBar()
        self.level.setObjectName("checkLevel")
        self.level.setRange(0, 100)
        self.level.setTextVisible(False)
        for row_no, (text, widget) in enumerate(((_("Camera"), self.camera_box),
                                                 (_("Microphone"), self.mic_box),
                                                 (_("Input level"), self.level))):
            grid.addWidget(label(text, "muted"), row_no, 0)
            grid.addWidget(widget, row_no, 1)
        grid.setColumnStretch(1, 1)
        side.addLayout(grid)
        self.devices = label("", "muted", wrap=True, name="checkDevices")
        side.addWidget(self.devices)
        side.addStretch(1)
        row.addLayout(side, 2)
        card.body.addLayout(row)
        card.body.addWidget(label(_("Exam rules"), "subtitle"))
        self.rules = label("\n".join(f"{n}. {text}" for n, text in enumerate(exam_rules(), 1)),
                           "muted", wrap=True, name="checkRules")
        card.body.addWidget(self.rules)
        # A check box does not wrap its text: the statement wraps above a short box.
        card.body.addWidget(label(_("My information is correct, the camera shows me, and I "
                                    "have read the exam rules"), "", wrap=True,
                                  name="checkStatement"))
        self.tick = QCheckBox(_("I confirm all of the above"))
        self.tick.setObjectName("checkConfirm")
        card.body.addWidget(self.tick)
        self.status = label("", "error", wrap=True, name="checkStatus")
        card.body.addWidget(self.status)
        self.confirm_button = button(_("Confirm and start recording"), "primary",
                                     name="confirmWritten")
        self.confirm_button.setEnabled(False)
        card.body.addWidget(self.confirm_button, 0, Qt.AlignmentFlag.AlignRight)
        outer.addWidget(card)
        outer.addStretch(1)
        self.tick.toggled.connect(self.confirm_button.setEnabled)
        self.confirm_button.clicked.connect(self._on_confirm)
        self.camera_box.currentIndexChanged.connect(self._on_pick)
        self.mic_box.currentIndexChanged.connect(self._on_pick)

    def set_devices(self, cameras: list[tuple[str, Any]], microphones: list[tuple[str, Any]],
                    camera: Any, microphone: Any) -> None:
        """Fill the pickers (``(name, value)`` pairs) and select the devices to record."""
        fill_picker(self.camera_box, cameras, camera, camera_name)
        fill_picker(self.mic_box, microphones, microphone, microphone_name)
        self._show_devices()

    def chosen(self) -> tuple[Any, Any]:
        """The ``(camera, microphone)`` selected now."""
        return self.camera_box.currentData(), self.mic_box.currentData()

    def set_busy(self, busy: bool, error: str = "") -> None:
        """While the recording starts nothing can be changed; a failure says why."""
        for widget in (self.camera_box, self.mic_box, self.confirm_button):
            widget.setEnabled(not busy and (widget is not self.confirm_button
                                            or self.tick.isChecked()))
        self.status.setText(error)

    def _show_devices(self) -> None:
        self.devices.setText(_("Recorded with: camera {camera}, microphone {microphone}.")
                             .format(camera=self.camera_box.currentText() or "—",
                                     microphone=self.mic_box.currentText() or "—"))

    def _on_pick(self) -> None:
        self._show_devices()
        self.devices_chosen.emit(*self.chosen())

    def _on_confirm(self) -> None:
        if self.tick.isChecked():
            self.set_busy(True)
            self.confirmed.emit(*self.chosen())
