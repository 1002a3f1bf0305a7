"""The exam ends at its end time whatever state the candidate is left in."""

from __future__ import annotations

from tests.exam.conftest import login, shape
from tests.exam.helpers import wait_for
from zhishiyun.exam.runtime import ExamRuntime
from zhishiyun.exam.session import State


def test_an_interview_left_at_device_confirmation_ends_at_its_end(server_factory, devices,
                                                                   isolated_home):
    server = server_factory()
    exam_id = shape(server, "interview", start_in=0, duration_s=8)
    client = login(server.url)
    client.draw_lot(exam_id)
    client.accept(exam_id)
    runtime = ExamRuntime(client, isolated_home / "data")
    runtime.start()
    try:
        session = runtime.session({"id": exam_id, "kind": "interview"}, **devices)
        session.enter()
        assert session.state == State.DEVICE_CONFIRM and session.recorder.running
        # the candidate never confirms the devices
        wait_for(lambda: session.finish_reason, 30, "the end of the interview")
        assert session.finish_reason == "time_up"
        wait_for(lambda: not session.recorder.running, 15, "the recording to stop")
        wait_for(lambda: session.state == State.DONE, 60, "every upload")
        assert client.exam(exam_id).state == "finished"
        assert runtime.active_session() is None
    finally:
        runtime.close()
