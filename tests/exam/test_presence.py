"""Face presence during the exam: the recorded camera picture is sampled about once a second."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from tests.exam.conftest import login, server_rows, shape
from tests.exam.helpers import wait_for
from zhishiyun.auth.presence import PresenceSettings
from zhishiyun.exam.runtime import ExamRuntime

FAST = PresenceSettings(interval_s=0.3, absent_after_s=1.0)


def video(path, frame: np.ndarray, seconds: float = 2.0, fps: int = 10):
    height, width = frame.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    for _ in range(int(seconds * fps)):
        writer.write(frame)
    writer.release()
    return str(path)


def run_exam(server, isolated_home, camera: str, seconds: float):
    exam_id = shape(server, "written", start_in=1, duration_s=120)
    runtime = ExamRuntime(login(server.url), isolated_home / "data")
    runtime.start()
    hints = []
    try:
        runtime.client.accept(exam_id)
        session = runtime.session({"id": exam_id, "kind": "written"}, camera=camera,
                                  microphone="none", screen=False, presence=FAST)
        session.session_did_change.append(
            lambda kind, value: hints.append(value) if kind == "presence" else None)
        session.enter()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            kinds = {e.kind for e in server_rows(server, "Event", session.session_id)}
            if "face_absent" in kinds:
                break
            session.flush_events()
            time.sleep(0.3)
        session.finish("candidate_ended")
        wait_for(lambda: session.state.value == "done", 60, "the end of the exam")
        return {e.kind for e in server_rows(server, "Event", session.session_id)}, hints
    finally:
        runtime.close()


@pytest.mark.integration
def test_an_empty_seat_becomes_a_proctoring_event_and_a_quiet_hint(
        server_factory, isolated_home, tmp_path):
    empty_room = np.full((480, 640, 3), (90, 110, 130), np.uint8)
    kinds, hints = run_exam(server_factory(), isolated_home,
                            video(tmp_path / "empty.avi", empty_room), seconds=20)
    assert "face_absent" in kinds
    assert any(hints), hints  # the candidate saw a hint


@pytest.mark.integration
def test_a_candidate_in_view_raises_no_absence(server_factory, isolated_home, tmp_path):
    skimage_data = pytest.importorskip("skimage.data")
    face = cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)
    face = cv2.resize(face, (640, 640))[80:560]  # 640×480, the face well inside
    kinds, hints = run_exam(server_factory(), isolated_home,
                            video(tmp_path / "face.avi", face), seconds=4)
    assert "face_absent" not in kinds and not any(hints)
