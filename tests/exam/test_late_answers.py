"""Late delivery is not loss: answers saved during the exam count however late they arrive;
one written after the end is refused and reported."""

from __future__ import annotations

import json

from tests.exam.conftest import login, server_rows, shape
from tests.exam.helpers import wait_for
from zhishiyun.exam.runtime import ExamRuntime


def test_server_back_an_hour_later_takes_every_answer_saved_during_the_exam(
        server_factory, devices, isolated_home):
    server = server_factory()
    exam_id = shape(server, "written", start_in=0, duration_s=12)
    client = login(server.url)
    client.accept(exam_id)
    runtime = ExamRuntime(client, isolated_home / "data")
    runtime.start()
    try:
        session = runtime.session({"id": exam_id, "kind": "written"}, **devices)
        session.enter()
        sid = session.session_id
        session.save_answer("1", "在线时写的")
        wait_for(lambda: _answer_items(runtime, sid, "done"), 15, "the first answer")
        server.stop()  # before the end; it comes back an hour later
        session.save_answer("1", "断网后改的")  # version 2, saved during the exam
        session.save_answer("2", "断网时写的")
        wait_for(lambda: session.finish_reason == "time_up", 30, "the end of the exam")
        wait_for(lambda: session.clock.seconds_until(session.ends_at) < -6, 15,
                 "the end's tolerance (last keystrokes) to pass")
        session.save_answer("3", "结束后才写的")  # written after the end
        session.record_event("focus_lost", {"note": "after the end"})
        session.flush_events()

        server.env = {"ZHISHIYUN_SERVER_CLOCK_OFFSET": "3600"}
        server.start()
        runtime.worker.retry_now()
        wait_for(lambda: not _answer_items(runtime, sid, "pending", "uploading"), 60,
                 "every answer delivered or refused")
        reply = login(server.url).raw("GET", f"/sessions/{sid}/answers").json()
        stored = {a["question_id"]: a for a in reply}  # the API, as a reviewer's tool sees it
        assert set(stored) == {"1", "2"}
        assert (stored["1"]["version"], stored["1"]["content"]) == (2, "断网后改的")
        for question in ("1", "2"):
            assert stored[question]["late"] is True
            assert stored[question]["delay_s"] > 3000  # about an hour in transit
            assert stored[question]["saved_at"]
        refused = _answer_items(runtime, sid, "failed")
        assert len(refused) == 1
        assert json.loads(refused[0].payload)["content"] == "结束后才写的"
        assert "saved_after_end" in refused[0].reason  # what `zhishiyun upload` reports

        wait_for(lambda: not [i for i in runtime.queue.items(sid)
                              if i.kind == "events" and i.state != "done"], 60, "the events")
        events = {e.id: e.kind for e in server_rows(server, "Event", sid)}
        late = {events[row.event_id]: row.delay_s for row in server_rows(server, "LateEvent",
                                                                          sid)}
        assert "exam_finished" in late and "network_lost" in late, late
        assert min(late.values()) > 3000  # kept, and marked an hour late
        # the event written after the end stayed on this computer: nothing failed for it
        assert "after the end" not in json.dumps(
            [e.details for e in server_rows(server, "Event", sid)])
        assert any(e["details"].get("note") == "after the end" for e in session.store.events())
    finally:
        runtime.close()


def _answer_items(runtime, session_id, *states):
    return [i for i in runtime.queue.items(session_id) if i.kind == "answer"
            and i.state in states]


def test_events_written_after_the_end_are_refused_the_others_kept_and_marked_late(
        server_factory):
    from datetime import datetime, timedelta, timezone

    from zhishiyun.api.errors import ApiError

    server = server_factory()
    exam_id = shape(server, "written", start_in=-60, duration_s=600)
    client = login(server.url)
    client.accept(exam_id)
    sid = client.enter(exam_id).session_id
    server.stop()
    server.env = {"ZHISHIYUN_SERVER_CLOCK_OFFSET": "3600"}  # back an hour later: it is over
    server.start()
    now = datetime.now(timezone.utc)
    during, after = now - timedelta(seconds=10), now + timedelta(seconds=900)
    batch = [{"id": "in-exam", "kind": "focus_lost", "at": during.isoformat()},
             {"id": "after-end", "kind": "focus_lost", "at": after.isoformat()},
             # the end of an outage that began during the exam says so and is taken
             {"id": "outage-end", "kind": "network_back", "at": after.isoformat(),
              "details": {"after_end": True}}]
    try:
        client.post_events(sid, batch)
    except ApiError as exc:
        refusal = exc
    else:
        raise AssertionError("an event written after the end was accepted")
    assert refusal.code == "saved_after_end"
    events = {e.client_event_id: e for e in server_rows(server, "Event", sid)}
    assert refusal.details["accepted"] == 2  # the refused id is named in the 409's body
    assert set(events) == {"in-exam", "outage-end"}
    late = {row.event_id: row.delay_s for row in server_rows(server, "LateEvent", sid)}
    assert set(late) == {events["in-exam"].id, events["outage-end"].id}
    assert late[events["in-exam"].id] > 3000
