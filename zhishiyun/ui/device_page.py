"""设备检测: choose camera and microphone → start → record 10 s → generate → play back."""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from zhishiyun.capture.device_names import microphone_choices
from zhishiyun.config import Settings
from zhishiyun.device_choice import save_choice
from zhishiyun.i18n import _
from zhishiyun.ui.errors import message_for
from zhishiyun.ui.live_preview import LivePreview
from zhishiyun.ui.model import get
from zhishiyun.ui.playback import ClipPlayer
from zhishiyun.ui.qt import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QProgressBar,
    QTimer,
    QVBoxLayout,
    QWidget,
)
from zhishiyun.ui.style import set_variant
from zhishiyun.ui.tasks import on_main, run_task
from zhishiyun.ui.widgets import CardWidget, PageWidget, PreviewWidget, button, label

log = logging.getLogger(__name__)
TEST_SECONDS = 10
READ_ALOUD = "我是考生，我已阅读考试须知，我将诚信参加本次考试。"


def _list_devices() -> tuple[list[Any], list[Any]]:
    from zhishiyun.capture.devices import list_cameras, list_microphones

    return list_cameras(probe=False), list_microphones()


class DeviceTestWidget(PageWidget):
    """Camera + microphone test with a 10 s recording played back in the app.

    Args:
        device_test: the capture package's device-test entry point, or None when this build
            has none (the page then explains instead of recording).
        settings: preferred camera / microphone; a device pair that passed the test becomes
            the preference (what the exam records).
        save_settings: persists the preference on this computer (the user settings file).
    """

    STEPS = ("choose", "start", "record", "generate", "playback")

    def __init__(self, device_test: Any, settings: Settings,
                 save_settings: Callable[[dict], None] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(_("Device test"), parent)
        self._device_test = device_test
        self._settings = settings
        self._save_settings = save_settings
        self._tested: tuple[Any, Any] = (None, None)
        self._cancel = threading.Event()
        self._player: ClipPlayer | None = None
        self._clip: Path | None = None
        self._listed = False
        self._busy = False
        self._elapsed = 0.0
        self.result_data: Any = None
        self._ticker = QTimer(self)
        self._ticker.setInterval(200)
        self._ticker.timeout.connect(self._on_tick)
        self._live: LivePreview | None = None
        self._active = False
        self.content.addWidget(label(
            _("Check the camera and microphone you will use: choose them, press Start test "
              "and read the sentence below aloud while {n} seconds are recorded; then watch "
              "and listen to the recording.").format(n=TEST_SECONDS), "muted", wrap=True))
        self.steps_label = label("", "muted", wrap=True, name="deviceSteps")
        self.content.addWidget(self.steps_label)
        row = QHBoxLayout()
        row.setSpacing(16)
        left = CardWidget()
        self.preview = PreviewWidget(_("Choose a camera and a microphone, then press Start "
                                       "test."))
        self.preview.mirror = True  # the live self-view; the playback is shown as recorded
        self.preview.setMinimumSize(320, 200)  # grows with the window; fits 1280×720 at 150 %
        left.body.addWidget(self.preview, 1)
        self.caption = label(_("Read aloud: {text}").format(text=READ_ALOUD), "subtitle",
                             wrap=True)
        left.body.addWidget(self.caption)
        row.addWidget(left, 3)
        right = CardWidget()
        grid = QGridLayout()
        self.camera_box = QComboBox()
        self.camera_box.setObjectName("cameraBox")
        self.mic_box = QComboBox()
        self.mic_box.setObjectName("micBox")
        self.camera_box.currentIndexChanged.connect(self._on_device_chosen)
        self.mic_box.currentIndexChanged.connect(self._on_device_chosen)
        grid.addWidget(label(_("Camera"), "muted"), 0, 0)
        grid.addWidget(self.camera_box, 0, 1)
        grid.addWidget(label(_("Microphone"), "muted"), 1, 0)
        grid.addWidget(self.mic_box, 1, 1)
        grid.addWidget(label(_("Input level"), "muted"), 2, 0)
        self.level = QProgressBar()
        self.level.setObjectName("level")
        self.level.setProperty("tone", "level")
        self.level.setRange(0, 100)
        grid.addWidget(self.level, 2, 1)
        grid.addWidget(label(_("Progress"), "muted"), 3, 0)
        self.progress = QProgressBar()
        self.progress.setRange(0, TEST_SECONDS * 10)
        grid.addWidget(self.progress, 3, 1)
        grid.setColumnStretch(1, 1)
        right.body.addLayout(grid)
        self.result = label("", "muted", wrap=True, name="deviceResult")
        right.body.addWidget(self.result)
        from zhishiyun.ui.speaker_check import SpeakerCheckWidget

        self.speaker = SpeakerCheckWidget()
        right.body.addWidget(self.speaker)
        right.body.addStretch(1)
        buttons = QVBoxLayout()
        self.refresh_button = button(_("Refresh devices"))
        self.refresh_button.clicked.connect(self.refresh_devices)
        self.start_button = button(_("Start test"), "primary", name="startDeviceTest")
        self.start_button.clicked.connect(self._on_start_clicked)
        self.play_button = button(_("Play back"), name="playBack")
        self.play_button.setEnabled(False)
        self.play_button.clicked.connect(self._on_play_clicked)
        for widget in (self.refresh_button, self.start_button, self.play_button):
            buttons.addWidget(widget)
        right.body.addLayout(buttons)
        row.addWidget(right, 2)
        self.content.addLayout(row, 1)
        self._set_step("choose")
        if device_test is None:
            self.start_button.setEnabled(False)
            self._say(_("The device test is not available in this version of the client yet."),
                      "error")

    # --- life cycle ------------------------------------------------------------------------

    def activate(self) -> None:
        """The page became visible: list devices once, show the live picture."""
        self._active = True
        if not self._listed:
            self.refresh_devices()
        else:
            self._start_live()

    def deactivate(self) -> None:
        """The page was left: stop the live picture, recording and playback."""
        self._active = False
        self._cancel.set()
        self._stop_live()
        if self._player is not None:
            self._player.stop()

    def _start_live(self) -> None:
        self._stop_live()
        if not self._active or self._busy or self.camera_box.count() == 0:
            return
        camera, mic = self.camera_box.currentData(), self.mic_box.currentData()
        if camera is None and mic == "none":
            return
        self._live = LivePreview(camera, mic,
                                 on_main(self._on_live_frame), on_main(self._on_live_level),
                                 on_main(lambda text: self._say(text, "error")))
        self._live.start()
        self._set_step("start")

    def _stop_live(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
        self.level.setValue(0)

    def _on_live_frame(self, frame: Any) -> None:
        if self._live is not None and not self._busy:
            self.preview.show_frame(frame)

    def _on_live_level(self, level: float) -> None:
        if self._live is not None and not self._busy:
            self.level.setValue(int(max(0.0, min(1.0, level)) * 100))

    def _on_device_chosen(self, _index: int) -> None:
        if self._live is not None or (self._active and not self._busy):
            self._start_live()

    def refresh_devices(self) -> None:
        """List cameras and microphones in the background."""
        self._listed = True
        self.refresh_button.setEnabled(False)
        run_task(_list_devices, self._on_devices_listed)

    def _on_devices_listed(self, devices: Any, error: BaseException | None) -> None:
        self.refresh_button.setEnabled(True)
        if error is not None:
            self._say(message_for(error), "error")
            return
        cameras, mics = devices
        self.camera_box.blockSignals(True)
        self.mic_box.blockSignals(True)
        self.camera_box.clear()
        self.mic_box.clear()
        for camera in cameras:
            self.camera_box.addItem(f"{get(camera, 'name')}", get(camera, "index"))
        stand_in = self._settings.camera
        if stand_in and Path(stand_in).is_file():  # a video file configured as the camera
            self.camera_box.addItem(Path(stand_in).name, stand_in)
            cameras = [*cameras, stand_in]
        for text, value in microphone_choices(mics) if mics else ():  # one name everywhere
            self.mic_box.addItem(text, value)
        problems = []
        if not cameras:
            problems.append(_("No camera was found. Connect a camera (or close programs "
                              "using it) and press Refresh devices."))
            self.camera_box.addItem(_("No camera found"), None)
        if not mics:
            problems.append(_("No microphone was found. Connect a microphone and press "
                              "Refresh devices."))
            self.mic_box.addItem(_("No microphone found"), "none")
        self._select_preferred(mics)
        self.camera_box.blockSignals(False)
        self.mic_box.blockSignals(False)
        self._start_live()
        ready = bool(cameras or mics) and self._device_test is not None
        self.start_button.setEnabled(ready and not self._busy)
        if problems:
            self._say(" ".join(problems), "error")
        elif self._device_test is not None:
            self._say("", "muted")

    def _remember(self, camera: Any, microphone: Any) -> None:
        """The tested devices become this computer's choice: the exam records with them."""
        if camera is None:
            return
        chosen = {"camera": str(camera), "microphone": str(microphone or "")}
        self._settings.values.update(chosen)
        if self._save_settings is not None:
            self._save_settings(chosen)
        try:  # what the next exam records with (zhishiyun.device_choice)
            save_choice(self._settings.data_path, camera, microphone, chosen_in="device_test")
        except OSError as exc:
            log.warning("device choice not saved: %s", exc)

    def _select_preferred(self, mics: list[Any]) -> None:
        from zhishiyun.capture.devices import microphone_to_open

        # a microphone an older version saved by its PortAudio name: the source it is now
        microphone = microphone_to_open(self._settings.microphone, mics) if mics else None
        for box, wanted in ((self.camera_box, self._settings.camera),
                            (self.mic_box, microphone or self._settings.microphone)):
            if not wanted:
                continue
            for i in range(box.count()):
                if str(box.itemData(i)) == wanted or box.itemText(i) == wanted:
                    box.setCurrentIndex(i)

    # --- recording -------------------------------------------------------------------------

    def _on_start_clicked(self) -> None:
        self._stop_live()  # the test opens the devices itself
        if self._player is not None:
            self._player.stop()
        self._busy = True
        self._cancel = threading.Event()
        self.start_button.setEnabled(False)
        self.play_button.setEnabled(False)
        self.progress.setValue(0)
        self._set_step("start")
        self._say(_("Starting the camera and microphone…"), "muted")
        camera, mic = self.camera_box.currentData(), self.mic_box.currentData()
        self._tested = (camera, mic)
        out = Path(tempfile.mkdtemp(prefix="zhishiyun-devtest-"))
        cancel, test = self._cancel, self._device_test
        self.preview.show_placeholder(_("Recording… read the sentence below aloud."))
        self._elapsed = 0.0
        self._ticker.start()
        run_task(lambda: test(TEST_SECONDS, camera=camera, microphone=mic or None,
                              out_dir=out, cancel=cancel),
                 self._on_test_done)

    def _on_tick(self) -> None:
        self._elapsed += self._ticker.interval() / 1000
        if self._elapsed > TEST_SECONDS:
            self._set_step("generate")
            self._say(_("Generating the video…"), "muted")
            return
        self._set_step("record")
        self.progress.setValue(int(self._elapsed * 10))
        left = max(0, TEST_SECONDS - int(self._elapsed))
        self._say(_("Recording… {n} s left. Read the sentence aloud.").format(n=left), "muted")

    def _on_test_done(self, result: Any, error: BaseException | None) -> None:
        self._busy = False
        self._ticker.stop()
        self.start_button.setEnabled(True)
        if error is not None:
            self._set_step("choose")
            self.preview.show_placeholder(_("The test did not run."))
            self._say(message_for(error), "error")
            return
        self._set_step("generate")
        self.result_data = result
        clip = get(result, "camera_file")
        self._clip = Path(clip) if clip else None
        problems = [get(p, "message", str(p)) for p in get(result, "problems") or []]
        fps, peak = get(result, "camera_fps", 0.0) or 0.0, get(result, "audio_peak", 0.0) or 0.0
        self.level.setValue(int(max(0.0, min(1.0, float(peak))) * 100))
        summary = _("Recorded {fps:.0f} frames per second; loudest sound {level:.0f} %.").format(
            fps=float(fps), level=float(peak) * 100)
        self.preview.show_placeholder(_("The video is ready. Press Play back."))
        if problems:
            self._say(summary + " " + " ".join(problems), "error")
        else:
            self._say(summary + " " + _("Camera and microphone work. Play the recording back "
                                        "to check picture and sound."), "ok")
            self._remember(*self._tested)
        self.progress.setValue(self.progress.maximum())
        self.play_button.setEnabled(self._clip is not None)
        self.start_button.setText(_("Test again"))

    # --- playback --------------------------------------------------------------------------

    def _on_play_clicked(self) -> None:
        if self._clip is None:
            return
        if self._player is not None:
            self._player.stop()
        self._set_step("playback")
        self.play_button.setEnabled(False)
        preview, bar = self.preview, self.progress
        bar.setValue(0)  # the bar follows the playback now
        self._player = ClipPlayer(self._clip,
                                  on_main(lambda f: preview.show_frame(f, mirror=False)),
                                  on_main(self._on_playback_finished),
                                  on_progress=on_main(lambda share: bar.setValue(
                                      round(share * bar.maximum()))))
        self._player.start()

    def _on_playback_finished(self, error: str) -> None:
        self.play_button.setEnabled(True)
        if error:
            self._say(_("The recording cannot be played: {error}").format(error=error), "error")

    # --- helpers ---------------------------------------------------------------------------

    def _set_step(self, step: str) -> None:
        names = {"choose": _("Choose devices"), "start": _("Start devices"),
                 "record": _("Record"), "generate": _("Generate video"),
                 "playback": _("Play back")}
        current = self.STEPS.index(step)
        parts = []
        for index, key in enumerate(self.STEPS):
            text = names[key]
            parts.append(f"<b style='color:#1664ff'>{text}</b>" if index == current
                         else (f"<span style='color:#14a05a'>{text}</span>" if index < current
                               else text))
        self.steps_label.setText("  →  ".join(parts))

    def _say(self, text: str, role: str) -> None:
        self.result.setText(text)
        set_variant(self.result, "role", role)
