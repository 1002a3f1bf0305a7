"""The upload worker sends the session's queued events with a segment's tus creation.

The real exam server app on uvicorn over HTTP (SQLite), wrapped to log every request it
gets; the real upload queue and worker. Events queued with a segment go up with no
``POST /events``; events with no segment to ride on are posted at once, as before; a batch
the server does not record, or a server that ignores carried events, gets them posted.
"""

from __future__ import annotations

import contextlib
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.upload import test_carried_lines as carried_lines
from tests.upload.test_carried_lines import Logged, Recorder, _start
from zhishiyun.upload.queue import DONE, FAILED
from zhishiyun.upload.worker import UploadWorker
from zhishiyun_server import clock
from zhishiyun_server.models import Event
from zhishiyun_server.tus.endpoint import ExamUploadHooks

pytestmark = pytest.mark.integration


class Requests(Logged):
    """:class:`Logged` with the events posts."""

    def event_posts(self) -> list[int]:
        return [n for n, (method, path) in enumerate(self.log)
                if method == "POST" and path.endswith("/events")]


def logged_server(tmp_path):
    """The exam server (demo data) on a free port; yields (served app, :class:`Requests`)."""
    return carried_lines.logged_server(tmp_path, Requests)


def _event(name: str, at=None) -> dict:
    return {"id": name, "kind": "focus_lost",
            "at": clock.iso(at or clock.now() - timedelta(seconds=1)), "details": {}}


def _stored_ids(served, session_id: str) -> dict[str, int]:
    with served.app.state.engine.connect() as conn:
        return dict(conn.execute(select(Event.client_event_id, func.count())
                                 .where(Event.session_id == session_id,
                                        Event.client_event_id.like("ev-%"))
                                 .group_by(Event.client_event_id)).all())


@contextlib.contextmanager
def _worker(queue, entered, **kwargs):
    worker = UploadWorker(queue, lambda: entered.token, **kwargs)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


def _with_segment(queue, uploads, recorder: Recorder, *batches: list[dict]) -> None:
    """Queue event batches and close a segment at one moment (the worker sees all or none)."""
    with queue.together():
        for batch in batches:
            uploads.post_events(batch)
        recorder.close_segment()


def test_events_queued_with_segments_need_no_events_post(tmp_path):
    with logged_server(tmp_path) as (served, logged):
        entered, queue, recorder = _start(tmp_path, served.url)
        uploads = recorder.uploads
        with _worker(queue, entered) as worker:
            for n in range(4):
                # two batches (two ticks' worth) travel in the one creation
                _with_segment(queue, uploads, recorder, [_event(f"ev-{n}a")],
                              [_event(f"ev-{n}b"), _event(f"ev-{n}c")])
                assert worker.wait_idle(30)
        assert logged.event_posts() == [] and logged.manifest_posts() == []
        assert len(logged.creations()) == 4
        assert {(i.kind, i.state) for i in queue.items()} == {
            ("events", DONE), ("manifest", DONE), ("segment", DONE)}
        assert _stored_ids(served, entered.session_id) == {
            f"ev-{n}{x}": 1 for n in range(4) for x in "abc"}


def test_events_with_no_segment_to_ride_on_are_posted_at_once(tmp_path):
    with logged_server(tmp_path) as (served, logged):
        entered, queue, recorder = _start(tmp_path, served.url)
        with _worker(queue, entered) as worker:
            recorder.uploads.post_events([_event("ev-alone")])
            deadline = time.monotonic() + 10
            while not logged.event_posts() and time.monotonic() < deadline:
                time.sleep(0.01)
            assert logged.event_posts() and logged.creations() == []  # it did not wait
            assert worker.wait_idle(30)
            recorder.close_segment()
            assert worker.wait_idle(30)
        assert len(logged.event_posts()) == 1 and len(logged.creations()) == 1
        assert _stored_ids(served, entered.session_id) == {"ev-alone": 1}


def test_a_backlog_of_events_too_large_to_carry_is_posted_before_the_segment(tmp_path):
    with logged_server(tmp_path) as (served, logged):
        entered, queue, recorder = _start(tmp_path, served.url)
        big = [{**_event(f"ev-{n:03d}"), "details": {"note": "x" * 100}} for n in range(80)]
        _with_segment(queue, recorder.uploads, recorder, big[:40], big[40:])
        with _worker(queue, entered) as worker:
            assert worker.wait_idle(30)
        posts, creations = logged.event_posts(), logged.creations()
        assert len(posts) == 2 and len(creations) == 1 and max(posts) < creations[0]
        assert logged.manifest_posts() == []  # the line still rode with its segment
        assert _stored_ids(served, entered.session_id) == {e["id"]: 1 for e in big}


def test_events_the_creation_did_not_record_are_posted_as_before(tmp_path):
    with logged_server(tmp_path) as (served, logged):
        entered, queue, recorder = _start(tmp_path, served.url)
        entered.client.finish(entered.session_id, "candidate_ended")
        after_end = _event("ev-after", clock.now() + timedelta(seconds=30))
        _with_segment(queue, recorder.uploads, recorder, [after_end])
        with _worker(queue, entered) as worker:
            assert worker.wait_idle(30)
        # Not recorded with the creation: posted, refused by the events route as always,
        # and the segment resumed after the post (one HEAD).
        assert len(logged.event_posts()) == 1 and len(logged.creations()) == 1
        assert [method for method, _path in logged.log].count("HEAD") == 1
        events = next(i for i in queue.items() if i.kind == "events")
        assert events.state == FAILED and "saved_after_end" in events.reason
        assert {i.state for i in queue.items() if i.kind != "events"} == {DONE}
        assert _stored_ids(served, entered.session_id) == {}


def test_a_server_that_ignores_carried_events_gets_them_posted(tmp_path, monkeypatch):
    # A server from before this feature: "events" is plain metadata, no reply header.
    monkeypatch.setattr(ExamUploadHooks, "carried_metadata", frozenset({"manifest"}))
    with logged_server(tmp_path) as (served, logged):
        entered, queue, recorder = _start(tmp_path, served.url)
        with _worker(queue, entered) as worker:
            for n in range(3):
                _with_segment(queue, recorder.uploads, recorder, [_event(f"ev-{n}")])
                assert worker.wait_idle(30)
        posts, creations = logged.event_posts(), logged.creations()
        assert len(posts) == 3 and len(creations) == 3
        patches = [n for n, (method, _path) in enumerate(logged.log) if method == "PATCH"]
        assert all(post < patch for post, patch in zip(posts, patches, strict=True))
        # Only the first creation carried them (then one HEAD to resume it); the worker
        # then posts that server's events first. The lines still ride.
        assert [method for method, _path in logged.log].count("HEAD") == 1
        assert logged.manifest_posts() == []
        assert {i.state for i in queue.items()} == {DONE}
        assert _stored_ids(served, entered.session_id) == {f"ev-{n}": 1 for n in range(3)}
