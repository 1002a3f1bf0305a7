"""考前确认 of a written exam comes before the recording, in the real exam window.

Real server, real recorder (screen, stand-in camera files, vmic), Chinese UI at 1366×768.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from tests.exam.conftest import server_rows, shape
from tests.ui_exam.conftest import SHOTS, SUPPORT
from zhishiyun.device_choice import load_choice
from zhishiyun.exam.session import State
from zhishiyun.ui.qt import QApplication


def recorded_files(session) -> list[Path]:
    """Segment files the session directory holds (``<track>/<seq>.mp4``)."""
    return sorted(session.session_dir.rglob("*.mp4")) if session.session_dir.is_dir() else []


def test_nothing_is_recorded_until_the_written_confirmation(server_factory, runtime_for,
                                                             devices, qtbot, tmp_path):
    from zhishiyun.ui.exam.window import ExamWindow

    server = server_factory()
    # the start leaves room for every step below (the virtual microphone delivers in ~2 s
    # bursts) so that the confirmation leads to the waiting room, not to the papers
    exam_id = shape(server, "written", start_in=20, duration_s=600)
    runtime = runtime_for(server)
    runtime.client.accept(exam_id)
    session = runtime.session({"id": exam_id, "name": "2026 年度专业技术人员笔试（演示）",
                               "kind": "written"}, **devices)
    other = tmp_path / "second-camera.avi"
    shutil.copy(devices["camera"], other)
    window = ExamWindow(session, support=SUPPORT, candidate_name="张三",
                        list_devices=lambda: ([("视频文件摄像头", session.camera),
                                               ("第二个摄像头", str(other))],
                                              [("系统默认", None)]))
    window.ask = lambda *_args: True
    qtbot.addWidget(window)
    window.start()
    written = window.written
    qtbot.waitUntil(lambda: window.stack.currentWidget() is written, timeout=40000)
    assert session.state == State.CONFIRM and session.session_id  # entered on the server
    qtbot.waitUntil(lambda: written.camera_box.count() == 2, timeout=10000)
    # the live picture comes from the chosen camera while the recorder does not run
    qtbot.waitUntil(written.preview.has_frame, timeout=10000)
    assert "张三" in written.identity.text() and "笔试" in written.identity.text()
    assert "视频文件摄像头" in written.devices.text() and "系统默认" in written.devices.text()
    assert "交卷" in written.rules.text()
    assert not written.confirm_button.isEnabled(), "the rules must be ticked first"
    assert window.rec.text() == "尚未录制"
    if devices["microphone"] is None:  # PulseAudio's 440 Hz vmic: the level moves live
        qtbot.waitUntil(lambda: written.level.value() > 0, timeout=10000)
    _shoot_1366(window)
    deadline = time.monotonic() + 3.0  # longer than a segment (2 s): it would have closed
    while time.monotonic() < deadline:
        QApplication.processEvents()
        assert session.recorder is None, "recording started before the confirmation"
        assert not recorded_files(session)
        time.sleep(0.1)
    assert not server_rows(server, "RecordingSegment", session.session_id)

    # the candidate picks the other camera: the live picture follows, still no recording
    written.camera_box.setCurrentIndex(1)
    qtbot.waitUntil(lambda: window._confirm_live is not None
                    and window._confirm_live.camera == str(other), timeout=5000)
    qtbot.waitUntil(written.preview.has_frame, timeout=10000)
    assert "second-camera.avi" not in written.devices.text()  # the name people see
    assert "第二个摄像头" in written.devices.text()
    assert session.recorder is None and not recorded_files(session)

    written.tick.setChecked(True)
    written.confirm_button.click()
    qtbot.waitUntil(lambda: session.recorder is not None and session.recorder.running,
                    timeout=15000)
    assert session.camera == str(other), "the exam records with the camera chosen there"
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.waiting, timeout=10000)
    assert window.rec.text() == "● 正在录制"
    qtbot.waitUntil(lambda: len(recorded_files(session)) >= 2, timeout=20000)
    choice = load_choice(runtime.data_dir)  # kept for this computer's next exam
    assert (choice.camera, choice.chosen_in) == (str(other), "exam_confirmation")
    session.finish("candidate_ended")
    qtbot.waitUntil(lambda: session.state == State.DONE, timeout=40000)
    kinds = [e.kind for e in server_rows(server, "Event", session.session_id)]
    assert kinds.index("session_entered") < kinds.index("written_checklist_confirmed")
    window._leave("done")


def _shoot_1366(window) -> None:
    """docs/screenshots/journey_1366_written_confirmation.png with ZHISHIYUN_TEST_SCREENSHOTS=1."""
    import tempfile

    folder = SHOTS if os.environ.get("ZHISHIYUN_TEST_SCREENSHOTS") == "1" else \
        Path(tempfile.gettempdir()) / "zhishiyun-exam-shots"
    folder.mkdir(parents=True, exist_ok=True)
    seen, window._full_screen_seen = window._full_screen_seen, False
    window.showNormal()
    for _attempt in range(50):
        window.resize(1366, 768)
        QApplication.processEvents()
        if (window.width(), window.height()) == (1366, 768):
            break
        time.sleep(0.02)
    QApplication.processEvents()
    assert window.grab().save(str(folder / "journey_1366_written_confirmation.png"))
    window.showFullScreen()
    QApplication.processEvents()
    window._full_screen_seen = seen
