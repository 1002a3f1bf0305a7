"""The manual's speaker check: a test sound, then "did you hear it?".

Instructions are spoken at the start of an exam, so the candidate makes sure the speakers
are on. The tone plays off the UI thread (sounddevice, the default output).
"""

from __future__ import annotations

import logging
from typing import Any

from zhishiyun.i18n import _
from zhishiyun.ui.errors import message_for
from zhishiyun.ui.qt import QHBoxLayout, QVBoxLayout, QWidget
from zhishiyun.ui.style import set_variant
from zhishiyun.ui.tasks import run_task
from zhishiyun.ui.widgets import button, label

log = logging.getLogger(__name__)
TONE_SECONDS = 1.5
RATE = 44100


def play_test_sound(seconds: float = TONE_SECONDS) -> None:
    """Play a soft 660 Hz chime (fading in and out) on the default output. Blocking."""
    import numpy as np
    import sounddevice as sd

    t = np.arange(int(seconds * RATE)) / RATE
    envelope = np.minimum(1.0, np.minimum(t, seconds - t) / 0.1)
    tone = (0.3 * envelope * np.sin(2 * np.pi * 660 * t)).astype("float32")
    sd.play(tone, RATE)
    sd.wait()


class SpeakerCheckWidget(QWidget):
    """播放测试音 → 你听到了吗？ (yes / no, with what to check on no)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("speakerCheck")
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        self.play_button = button(_("Play a test sound"), name="speakerPlay")
        self.play_button.clicked.connect(self.play)
        box.addWidget(self.play_button)
        self.question = label(_("Did you hear the test sound?"), "", name="speakerQuestion")
        self.yes_button = button(_("Yes, I heard it"), name="speakerYes")
        self.no_button = button(_("No, I did not"), name="speakerNo")
        self.yes_button.clicked.connect(lambda: self.answer(True))
        self.no_button.clicked.connect(lambda: self.answer(False))
        row = QHBoxLayout()
        row.addWidget(self.question, 1)
        row.addWidget(self.yes_button)
        row.addWidget(self.no_button)
        box.addLayout(row)
        self.result = label("", "muted", wrap=True, name="speakerResult")
        box.addWidget(self.result)
        self.heard: bool | None = None
        self._ask(False)
        self.result.hide()

    def _ask(self, visible: bool) -> None:
        for widget in (self.question, self.yes_button, self.no_button):
            widget.setVisible(visible)

    def play(self) -> None:
        """Play the sound (off the UI thread), then ask."""
        self.play_button.setEnabled(False)
        self._say(_("Playing the test sound…"), "muted")
        run_task(play_test_sound, self._on_played)

    def _on_played(self, _result: Any, error: BaseException | None) -> None:
        self.play_button.setEnabled(True)
        if error is not None:
            log.info("test sound failed: %s", error)
            self._say(_("No sound could be played: {error}. Check that speakers or "
                        "headphones are connected.").format(error=message_for(error)), "error")
            return
        self.result.hide()
        self._ask(True)

    def answer(self, heard: bool) -> None:
        """The candidate's answer."""
        self.heard = heard
        self._ask(False)
        if heard:
            self._say(_("The speakers work. Instructions are spoken at the start of the "
                        "exam."), "ok")
        else:
            self._say(_("Turn the volume up, unmute the speakers or connect headphones, then "
                        "play the test sound again."), "error")

    def _say(self, text: str, role: str) -> None:
        self.result.setText(text)
        set_variant(self.result, "role", role)
        self.result.setVisible(bool(text))
