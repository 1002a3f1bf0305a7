"""A written exam through the headless core against the real server, with real recordings."""

from __future__ import annotations

import shutil

import pytest

from tests.exam.conftest import login, server_rows, shape
from tests.exam.helpers import assert_all_segments_on_server, decoded_frames, wait_for
from zhishiyun.api.errors import ApiError
from zhishiyun.capture.recovery import segment_path
from zhishiyun.exam.runtime import ExamRuntime
from zhishiyun.exam.session import State


@pytest.fixture
def runtime_for(isolated_home):
    made = []

    def make(server):
        client = login(server.url)
        runtime = ExamRuntime(client, isolated_home / "data")
        runtime.start()
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()


def test_written_exam_waits_shows_papers_saves_answers_and_ends_at_time_up(
        server_factory, runtime_for, devices):
    server = server_factory()
    exam_id = shape(server, "written", start_in=10, duration_s=6)  # entering takes a few s
    runtime = runtime_for(server)
    runtime.client.accept(exam_id)
    states = []
    session = runtime.session({"id": exam_id, "name": "written", "kind": "written"},
                              **devices)
    session.session_did_change.append(lambda kind, value: states.append(value)
                                      if kind == "state" else None)
    session.enter()
    assert session.state == State.WAITING
    assert session.recorder.running  # recording starts at entry, before the papers
    with pytest.raises(ApiError) as refused:
        session.papers()
    assert refused.value.code == "not_started"
    assert runtime.active_session().session_id == session.session_id

    wait_for(lambda: session.state == State.IN_PROGRESS, 15, "the start of the exam")
    papers = session.papers()
    assert [p.kind for p in papers] == ["pdf", "image", "text"]
    assert session.paper_content(papers[0]).startswith(b"%PDF")
    assert session.save_answer("1", "片段") == 1
    assert session.save_answer("1", "片段录制是崩溃安全的") == 2
    assert session.save_answer("1", "片段录制是崩溃安全的") is None  # unchanged: no new version
    session.save_answer("4", "加密、最小化、及时删除")
    session.record_event("focus_lost", {"seconds": 2})

    # the listeners hear of a state just after it is set: wait for them, not the attribute
    wait_for(lambda: states[-1:] == [State.DONE], 40, "time up and every upload")
    assert states[-3:] == [State.IN_PROGRESS, State.FINISHING, State.DONE]
    assert session.finish_reason == "time_up"
    assert runtime.active_session() is None  # nothing to return to after the end

    client = runtime.client
    stored = {a.question_id: (a.version, a.content) for a in client.answers(session.session_id)}
    assert stored == {"1": (2, "片段录制是崩溃安全的"), "4": (1, "加密、最小化、及时删除")}
    kinds = [e.kind for e in server_rows(server, "Event", session.session_id)]
    assert {"session_entered", "focus_lost", "exam_finished"} <= set(kinds)
    local = assert_all_segments_on_server(client, session)
    assert len(local["screen"]) >= 3  # ~10 s at 2 s per segment
    assert decoded_frames(segment_path(session.session_dir, "camera", 1)) > 0
    assert decoded_frames(segment_path(session.session_dir, "screen", 1)) > 0


def test_camera_lost_and_back_then_ending_early_twice_is_one_end(
        server_factory, runtime_for, devices, tmp_path):
    server = server_factory()
    exam_id = shape(server, "written", start_in=0, duration_s=600)
    runtime = runtime_for(server)
    runtime.client.accept(exam_id)
    camera = tmp_path / "camera.avi"  # a stand-in camera we can unplug
    shutil.copy(devices["camera"], camera)
    session = runtime.session({"id": exam_id, "kind": "written"},
                              **{**devices, "camera": str(camera)})
    session.enter()
    assert session.state == State.IN_PROGRESS
    wait_for(lambda: session.segment_items(), 15, "a first closed segment")

    camera.rename(tmp_path / "unplugged.avi")
    wait_for(lambda: "device_lost" in kinds_of(session), 15, "the camera-lost event")
    (tmp_path / "unplugged.avi").rename(camera)
    wait_for(lambda: "device_restored" in kinds_of(session), 15, "the camera-back event")
    assert session.recorder.running
    session.finish("candidate_ended")
    session.finish("time_up")  # a late timer changes nothing
    assert session.finish_reason == "candidate_ended"
    wait_for(lambda: session.state == State.DONE, 30, "every upload")
    reply = runtime.client.finish(session.session_id, "time_up")
    assert reply.reason == "candidate_ended"
    assert_all_segments_on_server(runtime.client, session)
    with pytest.raises(ApiError) as again:
        runtime.client.enter(exam_id)
    assert again.value.code == "exam_finished"
    on_server = [e.kind for e in server_rows(server, "Event", session.session_id)]
    assert on_server.index("device_lost") < on_server.index("device_restored")


def kinds_of(session) -> list[str]:
    return [e["kind"] for e in session.store.events()]
