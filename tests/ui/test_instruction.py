"""The spoken instruction: downloaded while the candidate waits, heard when the exam starts.

Real server (``admin set-instruction`` with a real Ogg file), the real exam window and
session, and the sound played through PulseAudio (the stream is seen on its sink).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys

from tests.conftest import REPO, require
from tests.exam.conftest import pulse_running, shape

from .test_layout_exam import exam_window, runtime_for  # noqa: F401 - fixture


def spoken_ogg(tmp_path):
    """Three seconds of a real tone as Ogg Vorbis (what an organisation uploads)."""
    if shutil.which("ffmpeg") is None:
        require("ffmpeg", "makes the instruction's audio file")
    out = tmp_path / "指导语.ogg"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=660:duration=3",
                    "-ac", "1", "-ar", "16000", "-c:a", "libvorbis", "-y", str(out)],
                   check=True, timeout=60)
    return out


def our_streams() -> int:
    """How many PulseAudio playback streams this test process has open now."""
    listing = subprocess.run(["pactl", "list", "sink-inputs"], capture_output=True, text=True,
                             timeout=10, check=False).stdout
    return len(re.findall(rf'application\.process\.id = "{os.getpid()}"', listing))


def confirm_before_the_start(window, session, qtbot) -> None:
    """Press 确认 on the confirmation card the exam shows before recording, if any."""
    qtbot.waitUntil(lambda: session.state.value in ("in_progress", "confirm", "device_confirm"),
                    timeout=30_000)
    if session.state.value == "confirm":  # a written exam's 考前确认
        qtbot.waitUntil(lambda: window.stack.currentWidget() is window.written, timeout=10_000)
        window.written.tick.setChecked(True)
        window.written.confirm_button.click()
    elif session.state.value == "device_confirm":  # an interview's 设备确认
        window._on_devices_confirmed()


def test_the_instruction_plays_when_the_exam_starts_and_can_be_played_again(
        server_factory, runtime_for, devices, qtbot, tmp_path):  # noqa: F811 - fixture
    from zhishiyun.ui.exam.instruction import InstructionWidget, attach_instruction

    if not pulse_running() or shutil.which("pactl") is None:
        require("PulseAudio", "the instruction is heard on a real sound server "
                "(scripts/services.sh start_audio)")
    server = server_factory()
    exam_id = shape(server, "written", start_in=6, duration_s=600)
    audio = spoken_ogg(tmp_path)
    done = subprocess.run([sys.executable, "-m", "zhishiyun_server", "admin", "--db",
                           server.db_url, "set-instruction", "--exam", str(exam_id),
                           str(audio)], capture_output=True, text=True, cwd=REPO, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    runtime = runtime_for(server)
    runtime.client.accept(exam_id)
    session = runtime.session({"id": exam_id, "name": "笔试", "kind": "written"}, **devices)
    window = exam_window(session, qtbot)
    attach_instruction(window, tmp_path / "downloads")
    window.start()

    def panel():
        return next((p for p in window.side_panels if isinstance(p, InstructionWidget)), None)

    qtbot.waitUntil(lambda: panel() is not None, timeout=20_000)
    instruction = panel()
    qtbot.waitUntil(instruction.isVisible, timeout=5_000)  # shown once the column lays out
    assert hashlib.sha256(instruction.path.read_bytes()).digest() == \
        hashlib.sha256(audio.read_bytes()).digest(), "the organisation's file, intact"
    assert "plays when the exam starts" in instruction.line.text()
    assert instruction.player is None and our_streams() == 0, "nothing plays before the start"

    confirm_before_the_start(window, session, qtbot)
    qtbot.waitUntil(lambda: "Playing the exam's spoken instruction" in instruction.line.text(),
                    timeout=30_000)
    assert session.state.value == "in_progress"
    qtbot.waitUntil(lambda: our_streams() >= 1, timeout=5_000)  # heard on the sound server
    qtbot.waitUntil(lambda: instruction.progress.value() > 0, timeout=5_000)
    qtbot.waitUntil(lambda: "has been played" in instruction.line.text(), timeout=15_000)
    qtbot.waitUntil(lambda: our_streams() == 0, timeout=5_000)

    instruction.replay_button.click()
    assert "Playing" in instruction.line.text()
    qtbot.waitUntil(lambda: our_streams() >= 1, timeout=5_000)
    window._leave("home")
    qtbot.waitUntil(lambda: our_streams() == 0, timeout=5_000)
    assert not instruction.replay_button.isEnabled(), "leaving the exam stops the sound"
