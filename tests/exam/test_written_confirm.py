"""考前确认 in the core: a written exam entered from the window records nothing before it.

Real server, real recorder (screen, stand-in camera, vmic); the session as the exam window
drives it (``enter(confirm_first=True)``, then ``confirm_and_record``).
"""

from __future__ import annotations

import json
import shutil
import time
from datetime import datetime, timedelta, timezone

import pytest

from tests.exam.conftest import login, server_rows, shape
from tests.exam.helpers import wait_for
from zhishiyun.device_choice import load_choice
from zhishiyun.exam.runtime import ExamRuntime
from zhishiyun.exam.session import State
from zhishiyun.exam.session_end import refused_after_end


@pytest.fixture
def runtime(server_factory, isolated_home):
    server = server_factory()
    made = ExamRuntime(login(server.url), isolated_home / "data")
    made.start()
    made.server = server
    yield made
    made.close()


def segments(session) -> list:
    return sorted(session.session_dir.rglob("*.mp4"))


def test_recording_starts_with_the_confirmation_and_a_resume_does_not_ask_again(
        runtime, devices, tmp_path):
    exam_id = shape(runtime.server, "written", start_in=0, duration_s=600)
    runtime.client.accept(exam_id)
    session = runtime.session({"id": exam_id, "kind": "written"}, **devices)
    session.enter(confirm_first=True)
    assert session.state == State.CONFIRM and runtime.in_exam()
    time.sleep(2.5)  # longer than a segment: one would have closed by now
    assert session.recorder is None and not segments(session)

    other = tmp_path / "other-camera.avi"
    shutil.copy(devices["camera"], other)
    session.confirm_and_record(str(other), devices["microphone"])
    assert session.recorder.running and session.camera == str(other)
    assert session.state == State.IN_PROGRESS  # the start had passed
    assert load_choice(runtime.data_dir).camera == str(other)  # this computer's choice now
    wait_for(lambda: len(segments(session)) >= 2, 20, "segments after the confirmation")
    session.close()

    again = runtime.session({"id": exam_id, "kind": "written"}, **devices)
    again.enter(confirm_first=True)  # back after a crash: confirmed already
    assert again.state == State.IN_PROGRESS and again.recorder.running
    again.finish("candidate_ended")
    wait_for(lambda: again.state == State.DONE, 60, "every upload")
    kinds = [e.kind for e in server_rows(runtime.server, "Event", again.session_id)]
    assert kinds.count("written_checklist_confirmed") == 1


def test_an_unconfirmed_written_exam_ends_at_its_end_with_nothing_recorded(runtime, devices):
    exam_id = shape(runtime.server, "written", start_in=0, duration_s=6)
    runtime.client.accept(exam_id)
    session = runtime.session({"id": exam_id, "kind": "written"}, **devices)
    session.enter(confirm_first=True)
    assert session.state == State.CONFIRM
    wait_for(lambda: session.finish_reason, 30, "the end of the exam")
    assert session.finish_reason == "time_up" and session.recorder is None
    wait_for(lambda: session.state == State.DONE, 30, "the finish delivered")
    assert runtime.client.exam(exam_id).state == "finished"
    assert not segments(session)
    session.confirm_and_record(session.camera, session.microphone)  # too late: nothing
    assert session.recorder is None


def test_events_written_after_the_end_are_counted_and_do_not_hold_the_session(runtime,
                                                                              devices):
    exam_id = shape(runtime.server, "written", start_in=0, duration_s=600)
    runtime.client.accept(exam_id)
    session = runtime.session({"id": exam_id, "kind": "written"}, **devices)
    session.enter()
    wait_for(lambda: segments(session), 20, "a segment")
    session.finish("candidate_ended")
    session.record_event("focus_lost", {})  # after the finish: kept here, counted
    session.flush_events()
    assert session.events_after_end == 1
    # a batch the server refuses (its clock says these came after the end)
    later = (datetime.now(timezone.utc) + timedelta(minutes=5)).isoformat()
    session.uploads.post_events([{"id": "late-1", "kind": "focus_lost", "at": later},
                                 {"id": "late-2", "kind": "focus_back", "at": later}])
    runtime.worker.retry_now()
    wait_for(lambda: refused_after_end(runtime.queue.items(session.session_id))[0], 30,
             "the refusal")
    batches, events = refused_after_end(runtime.queue.items(session.session_id))
    assert (batches, events) == (1, 2)
    # a refusal no retry can change: the session still finishes its uploads
    wait_for(lambda: session.state == State.DONE, 60, "every other upload")
    refused = [i for i in runtime.queue.items(session.session_id) if i.state == "failed"]
    assert [json.loads(i.payload)["events"][0]["id"] for i in refused] == ["late-1"]
