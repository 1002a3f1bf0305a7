"""A reconnect's event batch is stored in a few statements, and racing copies never deadlock.

A client back from an hour offline sends up to 1,000 events at once. The real app served by
uvicorn on 127.0.0.1, on SQLite and on a fresh PostgreSQL database:

- the batch costs a bounded number of SQL statements, however many events it holds (also
  when it arrives after the end and every event is marked late);
- two copies of one large batch in opposite orders (a resend after a timeout while the
  first copy is still running) posted at the same moment store each event once and both
  answer 200: never a deadlock 503 or a unique-violation 500.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from datetime import timedelta

import pytest
import requests
from sqlalchemy import event, func, select
from sqlalchemy.engine.interfaces import ExecuteStyle

from tests.server import scale_app
from tests.upload.conftest import enter_written_exam
from zhishiyun_server import clock
from zhishiyun_server.models import Event, LateEvent

pytestmark = pytest.mark.integration
BATCH = 1000  # the most one request may carry (EventBatch)
#: The token and session lookups, the insert and the late marks, and room for a chunk more.
MOST_STATEMENTS = 6

served_app = scale_app.served_app_on_both_databases  # the fixture, on SQLite and PostgreSQL


def _events(prefix: str, count: int, at: str) -> list[dict]:
    return [{"id": f"{prefix}-{n:04d}", "kind": "focus_lost", "at": at,
             "details": {"n": n}} for n in range(count)]


@contextmanager
def _statements(engine):
    """The SQL statements the database runs inside the block, one per row of an executemany.

    An executemany (psycopg's is pipelined) is still one statement per row for the
    database; a multi-row ``VALUES`` is one.
    """
    seen: list[str] = []

    def record(_conn, _cursor, statement, parameters, context, _executemany):
        # (SQLAlchemy's multi-row VALUES batches are announced as executemany too.)
        per_row = context.execute_style is ExecuteStyle.EXECUTEMANY
        seen.extend([statement] * (len(parameters) if per_row else 1))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _stored(engine, session_id: str) -> dict[str, int]:
    """How many rows each client event id has in the session."""
    with engine.connect() as conn:
        return dict(conn.execute(
            select(Event.client_event_id, func.count()).where(Event.session_id == session_id)
            .group_by(Event.client_event_id)).all())


def test_a_full_batch_costs_a_few_statements_and_keeps_first_occurrences(served_app):
    engine = served_app.app.state.engine
    entered = enter_written_exam(served_app.url)
    url = f"{served_app.url}/api/v1/sessions/{entered.session_id}/events"
    at = clock.iso(clock.now() - timedelta(minutes=1))
    known = _events("e", 3, at)
    assert requests.post(url, json={"events": known}, headers=entered.auth,
                         timeout=30).json() == {"accepted": 3, "duplicates": 0}

    fresh = _events("e", BATCH - 7, at)[3:]  # e-0003 … e-0992, after the three known ones
    repeated = [{**item, "kind": "window_switch"} for item in fresh[:7]]  # later copies
    batch = known + fresh + repeated
    assert len(batch) == BATCH
    with _statements(engine) as statements:
        reply = requests.post(url, json={"events": batch}, headers=entered.auth, timeout=30)
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"accepted": len(fresh), "duplicates": 3 + 7}
    assert len(statements) <= MOST_STATEMENTS, statements
    assert len([s for s in statements if "INSERT INTO events" in s]) <= 2

    assert _stored(engine, entered.session_id) == {e["id"]: 1 for e in known + fresh}
    with engine.connect() as conn:  # the first copy of each id is the one kept
        kinds = set(conn.scalars(select(Event.kind).where(
            Event.session_id == entered.session_id)))
        details = dict(conn.execute(select(Event.client_event_id, Event.details).where(
            Event.session_id == entered.session_id)).all())
    assert kinds == {"focus_lost"}
    assert details["e-0500"] == {"n": 500}


def test_a_full_batch_after_the_end_is_marked_late_in_a_few_statements(served_app):
    engine = served_app.app.state.engine
    entered = enter_written_exam(served_app.url)
    base = f"{served_app.url}/api/v1/sessions/{entered.session_id}"
    written = clock.now() - timedelta(seconds=30)  # queued while offline, before the end
    queued = _events("late", BATCH - 5, clock.iso(written))
    after = _events("after", 5, clock.iso(clock.now() + timedelta(minutes=1)))
    assert requests.post(f"{base}/finish", json={"reason": "candidate_ended"},
                         headers=entered.auth, timeout=30).status_code == 200
    with _statements(engine) as statements:
        reply = requests.post(f"{base}/events", json={"events": after[:2] + queued + after[2:]},
                              headers=entered.auth, timeout=30)
    # Written after the end: refused by id; the others of the batch are stored.
    assert reply.status_code == 409, reply.text
    refusal = reply.json()["error"]
    assert refusal["code"] == "saved_after_end"
    assert refusal["refused"] == [e["id"] for e in after]
    assert refusal["accepted"] == len(queued)
    assert len(statements) <= MOST_STATEMENTS, statements

    with engine.connect() as conn:
        marks = conn.execute(select(Event.client_event_id, LateEvent.delay_s)
                             .join(LateEvent, LateEvent.event_id == Event.id)
                             .where(Event.session_id == entered.session_id)).all()
    assert _stored(engine, entered.session_id) == {e["id"]: 1 for e in queued}
    assert len(marks) == len(queued)
    assert {cid for cid, _ in marks} == {e["id"] for e in queued}
    assert all(29 <= delay < 120 for _, delay in marks), sorted(d for _, d in marks)[:3]


def _race(url: str, auth: dict, copies: list[list[dict]]) -> list[requests.Response]:
    """Post each copy from its own thread, all released at the same moment."""
    start = threading.Barrier(len(copies))
    replies: list[requests.Response | None] = [None] * len(copies)

    def post(n: int) -> None:
        start.wait()
        replies[n] = requests.post(url, json={"events": copies[n]}, headers=auth, timeout=60)

    threads = [threading.Thread(target=post, args=(n,)) for n in range(len(copies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    return replies


def test_racing_copies_in_opposite_orders_store_each_event_once(served_app):
    engine = served_app.app.state.engine
    entered = enter_written_exam(served_app.url)
    url = f"{served_app.url}/api/v1/sessions/{entered.session_id}/events"
    at = clock.iso(clock.now() - timedelta(minutes=1))
    rounds, size, expected = 8, 500, {}
    for n in range(rounds):
        batch = _events(f"r{n}", size, at)
        replies = _race(url, entered.auth, [batch, batch[::-1]])
        assert [r.status_code for r in replies] == [200, 200], [r.text for r in replies]
        assert sum(r.json()["accepted"] for r in replies) == size
        assert sum(r.json()["duplicates"] for r in replies) == size
        expected.update({e["id"]: 1 for e in batch})
    assert _stored(engine, entered.session_id) == expected
