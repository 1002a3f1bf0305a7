"""The exam window's pages: device confirmation, waiting room and finishing."""

from __future__ import annotations

import logging
from typing import Any

from zhishiyun.i18n import _
from zhishiyun.ui.qt import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QListWidget,
    QProgressBar,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)
from zhishiyun.ui.tasks import run_task
from zhishiyun.ui.widgets import CardWidget, PreviewWidget, button, label, scrolling_layout

log = logging.getLogger(__name__)
ECHO_SECONDS = 3


def track_text(track: str, seq: int) -> str:
    """屏幕录像 第 1 段: a recording segment as people name it (``seq`` counts from 0)."""
    name = {"screen": _("Screen recording"), "camera": _("Camera recording"),
            "phone": _("Phone recording")}.get(track, track)
    return _("{track} part {n}").format(track=name, n=seq + 1)


def clock_text(seconds: float) -> str:
    """``HH:MM:SS`` for a countdown (never negative)."""
    seconds = max(0, int(seconds + 0.999))
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def echo_test(microphone: str | None, seconds: float = ECHO_SECONDS) -> float:
    """Record ``seconds`` from the microphone and play them back; returns the peak (0…1)."""
    import numpy as np
    import sounddevice as sd

    device = None if not microphone or microphone == "none" else microphone
    rate = 16000
    audio = sd.rec(int(seconds * rate), samplerate=rate, channels=1, dtype="float32",
                   device=device)
    sd.wait()
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    try:
        sd.play(audio, rate)
        sd.wait()
    except Exception as exc:  # noqa: BLE001 - no speaker: the level still tells
        log.info("echo playback failed: %s", exc)
    return peak


class DeviceConfirmWidget(QWidget):
    """设备确认 (interviews): camera and microphone pickers, live preview, level, echo test.

    ``confirmed`` fires when the candidate confirms; ``devices_chosen(camera, microphone)``
    when they pick other devices (the window switches the recorder).
    """

    confirmed = Signal()
    devices_chosen = Signal(object, object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        outer = scrolling_layout(self)
        outer.setContentsMargins(24, 16, 24, 16)
        outer.addWidget(label(_("Device confirmation"), "title"))
        outer.addWidget(label(_("Make sure your face is clearly visible and the microphone "
                                "picks up your voice. Recording has already started."),
                              "muted", wrap=True))
        row = QHBoxLayout()
        left = CardWidget()
        self.preview = PreviewWidget(_("Waiting for the camera…"))
        self.preview.setObjectName("confirmPreview")
        self.preview.setMinimumSize(200, 150)
        self.preview.mirror = True  # self-view only: the recording is not mirrored
        left.body.addWidget(self.preview, 1)
        row.addWidget(left, 3)
        right = CardWidget()
        grid = QGridLayout()
        self.camera_box = QComboBox()
        self.camera_box.setObjectName("confirmCamera")
        self.mic_box = QComboBox()
        self.mic_box.setObjectName("confirmMic")
        self.level = QProgressBar()
        self.level.setObjectName("confirmLevel")
        self.level.setRange(0, 100)
        grid.addWidget(label(_("Camera"), "muted"), 0, 0)
        grid.addWidget(self.camera_box, 0, 1)
        grid.addWidget(label(_("Microphone"), "muted"), 1, 0)
        grid.addWidget(self.mic_box, 1, 1)
        grid.addWidget(label(_("Input level"), "muted"), 2, 0)
        grid.addWidget(self.level, 2, 1)
        grid.setColumnStretch(1, 1)
        right.body.addLayout(grid)
        self.echo_button = button(_("Test microphone"), name="echoTest")
        self.echo_button.clicked.connect(self._on_echo)
        self.echo_result = label("", "muted", wrap=True, name="echoResult")
        right.body.addWidget(self.echo_button)
        right.body.addWidget(self.echo_result)
        right.body.addStretch(1)
        self.confirm_button = button(_("Devices work — continue"), "primary",
                                     name="confirmDevices")
        self.confirm_button.clicked.connect(self.confirmed.emit)
        right.body.addWidget(self.confirm_button)
        row.addWidget(right, 2)
        outer.addLayout(row, 1)
        self._filling = False
        self.camera_box.currentIndexChanged.connect(self._on_pick)
        self.mic_box.currentIndexChanged.connect(self._on_pick)

    def set_devices(self, cameras: list[tuple[str, Any]], microphones: list[tuple[str, Any]],
                    camera: Any, microphone: Any) -> None:
        """Fill the pickers (``(label, value)`` pairs) and select the current devices."""
        self._filling = True
        for box, items, current in ((self.camera_box, cameras, camera),
                                    (self.mic_box, microphones, microphone)):
            box.clear()
            for text, value in items:
                box.addItem(text, value)
            found = box.findData(current)
            if found < 0 and current is not None:
                box.addItem(str(current), current)
                found = box.count() - 1
            box.setCurrentIndex(max(0, found))
        self._filling = False

    def _on_pick(self) -> None:
        if not self._filling:
            self.devices_chosen.emit(self.camera_box.currentData(), self.mic_box.currentData())

    def _on_echo(self) -> None:
        self.echo_button.setEnabled(False)
        self.echo_result.setText(_("Speak now: {n} seconds are recorded, then played back.")
                                 .format(n=ECHO_SECONDS))
        mic = self.mic_box.currentData()
        run_task(lambda: echo_test(mic), self._on_echo_done)

    def _on_echo_done(self, peak: Any, error: BaseException | None) -> None:
        self.echo_button.setEnabled(True)
        if error is not None:
            self.echo_result.setText(_("The microphone test failed: {error}").format(
                error=error))
        elif peak < 0.01:
            self.echo_result.setText(_("Nothing was heard. Check that the microphone is "
                                       "connected and not muted."))
        else:
            self.echo_result.setText(_("The microphone works (peak {peak:.0f}%). Did you "
                                       "hear yourself?").format(peak=peak * 100))


class WaitingWidget(QWidget):
    """候考: the countdown to the start, in server time; the papers open by themselves."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        outer = scrolling_layout(self)
        outer.setAlignment(Qt.AlignmentFlag.AlignCenter)
        card = CardWidget(margins=28)
        card.setMinimumWidth(420)  # fits beside the side column at 1280×720, 150 %
        card.setMaximumWidth(560)
        card.body.addWidget(label(_("Waiting room"), "title"))
        card.body.addWidget(label(_("The papers appear here by themselves when the exam "
                                    "starts. Stay in front of the camera."), "muted",
                                  wrap=True))
        self.countdown = label("--:--:--", "title", name="startCountdown")
        self.countdown.setStyleSheet("font-size: 48px;")
        self.countdown.setAlignment(Qt.AlignmentFlag.AlignCenter)
        card.body.addWidget(self.countdown)
        self.starts = label("", "muted", name="startsAt")
        self.starts.setAlignment(Qt.AlignmentFlag.AlignCenter)
        card.body.addWidget(self.starts)
        outer.addWidget(card, 0, Qt.AlignmentFlag.AlignCenter)

    def update_time(self, seconds_to_start: float, starts_at: str) -> None:
        """Show the countdown."""
        self.countdown.setText(clock_text(seconds_to_start))
        self.starts.setText(_("Starts at {time} (server time)").format(time=starts_at))


class FinishingWidget(QWidget):
    """The end: every segment's upload, and leaving only when done or by explained choice."""

    leave_requested = Signal()
    retry_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(32, 20, 32, 20)
        self.title = label(_("The exam has ended"), "title", wrap=True, name="finishTitle")
        outer.addWidget(self.title)
        self.summary = label(_("Uploading the recordings… Keep this window open and stay "
                               "connected until everything is uploaded."), "muted", wrap=True,
                             name="finishSummary")
        outer.addWidget(self.summary)
        self.receipt = label("", "subtitle", wrap=True, selectable=True, name="answerReceipt")
        self.receipt.hide()
        outer.addWidget(self.receipt)
        self.after_end = label("", "muted", wrap=True, name="afterEndEvents")
        self.after_end.hide()
        outer.addWidget(self.after_end)
        self.total = QProgressBar()
        self.total.setObjectName("uploadTotal")
        self.total.setRange(0, 1000)
        outer.addWidget(self.total)
        self.items = QListWidget()
        self.items.setObjectName("segmentList")
        outer.addWidget(self.items, 1)
        row = QHBoxLayout()
        self.retry_button = button(_("Retry failed uploads"), name="retryUploads")
        self.retry_button.setVisible(False)
        self.retry_button.clicked.connect(self.retry_requested.emit)
        self.leave_button = button(_("Back to home"), "primary", name="leaveExam")
        self.leave_button.clicked.connect(self.leave_requested.emit)
        row.addWidget(self.retry_button)
        row.addStretch(1)
        row.addWidget(self.leave_button)
        outer.addLayout(row)
        self.done = False

    def show_receipt(self, submitted_at: str, code: str, server_code: str | None) -> None:
        """答卷已提交: when, the receipt code, and whether the server holds the same answers.

        ``server_code`` is None while the server's code is not known yet.
        """
        self.title.setText(_("Answers submitted"))
        text = _("Submitted at {time} · receipt code {code}").format(time=submitted_at,
                                                                      code=code)
        if server_code is None:
            text += "\n" + _("The server confirms the code once your answers have arrived.")
        elif server_code == code:
            text += "\n" + _("The server holds exactly these answers (the same code).")
        else:
            text += "\n" + _("The server shows {code} for now: answers are still being "
                              "sent.").format(code=server_code)
        self.receipt.setText(text)
        self.receipt.show()

    def show_after_end(self, count: int) -> None:
        """How many proctoring events were written after the end, and why they do not count."""
        self.after_end.setVisible(count > 0)
        if count:
            self.after_end.setText(_(
                "{n} event(s) happened after the exam had ended (for example leaving the "
                "window): the server does not take them, as the exam was over. Your answers "
                "and recordings are not affected.").format(n=count))

    def update_uploads(self, items: list[Any], totals: dict[str, int], done: bool,
                       online: bool) -> None:
        """Refresh the list from the queue's segment rows and the session totals."""
        self.done = done
        lines = []
        for item in items:
            state = {"done": _("uploaded"), "uploading": _("uploading"),
                     "failed": _("upload failed"), "pending": _("waiting")}.get(
                item.state, item.state)
            percent = 100 * item.bytes_done // item.size if item.size else 0
            lines.append(f"{track_text(item.track, item.seq)}  {item.size / 1e6:.2f} MB  "
                         f"{percent}%  {state}")
        if [self.items.item(i).text() for i in range(self.items.count())] != lines:
            self.items.clear()
            self.items.addItems(lines)
        total = totals.get("bytes_total", 0)
        self.total.setValue(1000 if done or not total else
                            int(1000 * totals.get("bytes_done", 0) / total))
        failed = totals.get("items_failed", 0)
        self.retry_button.setVisible(failed > 0)
        if done:
            self.summary.setText(_("Everything is uploaded. You may leave the exam now."))
        elif failed:
            self.summary.setText(_("{n} upload(s) failed. Press Retry failed uploads; if it "
                                   "keeps failing, contact support — your recordings stay on "
                                   "this computer.").format(n=failed))
        elif not online:
            self.summary.setText(_("No network: the upload continues when the connection is "
                                   "back. Do not close Zhishiyun."))
        else:
            self.summary.setText(_("Uploading {done} of {total} items… Keep this window open.")
                                 .format(done=totals.get("items_done", 0),
                                         total=totals.get("items_total", 0)))
