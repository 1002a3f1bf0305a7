"""The speaker check: a real test sound on the default output, then "did you hear it?"."""

from __future__ import annotations

import subprocess

from tests.conftest import require
from zhishiyun.ui.speaker_check import SpeakerCheckWidget


def pulse_running() -> bool:
    try:
        return subprocess.run(["pactl", "info"], capture_output=True, timeout=3).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def test_the_test_sound_plays_then_asks_and_explains_a_no(qtbot):
    if not pulse_running():
        require("PulseAudio", "an output to play the test sound (scripts/services.sh "
                              "start_audio)")
    widget = SpeakerCheckWidget()
    qtbot.addWidget(widget)
    widget.show()
    assert widget.question.isHidden()
    widget.play_button.click()
    assert not widget.play_button.isEnabled()
    qtbot.waitUntil(widget.question.isVisible, timeout=10_000)
    assert widget.result.isHidden(), widget.result.text()
    widget.no_button.click()
    assert widget.heard is False and "volume" in widget.result.text()
    assert widget.question.isHidden()
    widget.play_button.click()
    qtbot.waitUntil(widget.question.isVisible, timeout=10_000)
    widget.yes_button.click()
    assert widget.heard is True and "speakers work" in widget.result.text()
