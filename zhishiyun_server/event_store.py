"""Proctoring events in the database: the one way a batch is stored, posted or carried.

``POST /sessions/{sid}/events`` (:mod:`zhishiyun_server.routes.sessions`) and a segment's
tus creation that carries the session's queued events (metadata ``events``,
:func:`record_carried_events`) store a batch by the same rules (:func:`store_events`):

- an id already known (or repeated in the batch) is skipped: the first occurrence stays;
- events that arrive after the session's end are kept and marked late with their delay;
- events *written* after the end are refused (:func:`written_after_end`), except the end
  of an outage that began during the exam (``network_back`` with ``after_end``);
- a batch goes in one statement, in client event id order, so racing copies of it wait for
  each other instead of deadlocking.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime, timedelta, timezone

from pydantic import ValidationError
from sqlalchemy import JSON, Integer, String, bindparam, insert
from sqlalchemy import text as sql
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection

from zhishiyun_server import clock
from zhishiyun_server.db import UTCDateTime
from zhishiyun_server.edge import json_problem
from zhishiyun_server.models import Event, LateEvent
from zhishiyun_server.schemas import EventBatch, EventIn
from zhishiyun_server.session_facts import owned_times

#: A time this close after the end still counts (an answer's ``saved_at``, an event's ``at``).
SAVED_AT_TOLERANCE = timedelta(seconds=5)
#: Largest ``events`` a tus creation may carry, decoded (its base64 is a third longer; the
#: request head stays far below its 64 KiB limit).
MAX_CARRIED_EVENTS_BYTES = 32 * 1024
_MAX_CARRIED_TEXT = 4 * -(-MAX_CARRIED_EVENTS_BYTES // 3)
#: Outcome of carried events (the ``Zhishiyun-Events`` header of the creation's reply).
CARRIED_RECORDED = "recorded"


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


# Built once: an expression built per call cost more CPU than running it (see recordings'
# manifest path). Each inserts a whole batch in one statement, ON CONFLICT DO NOTHING: a
# known id, also one a racing request is storing, is a duplicate, without a failed
# statement or a retry. On PostgreSQL the batch goes as arrays, one short statement: a
# 1,000-row VALUES cost psycopg more CPU to parse (it re-reads every placeholder of a long
# statement at each call) than the whole insert cost the database.
#: One event (the usual request, every few seconds): a single-row VALUES, cheapest there.
_INSERT_EVENT = sql(
    "INSERT INTO events (session_id, client_event_id, kind, at, details, received_at)"
    " VALUES (:sid, :client_id, :kind, :at, :details, :received_at)"
    " ON CONFLICT (session_id, client_event_id) DO NOTHING RETURNING id, client_event_id"
).bindparams(bindparam("at", type_=UTCDateTime()), bindparam("details", type_=JSON()),
             bindparam("received_at", type_=UTCDateTime())).columns(
    id=Integer, client_event_id=String)
_INSERT_EVENTS_PG = sql(
    "INSERT INTO events (session_id, client_event_id, kind, at, details, received_at)"
    " SELECT :sid, e.client_event_id, e.kind, e.at, CAST(e.details AS json), :received_at"
    " FROM unnest(CAST(:ids AS varchar[]), CAST(:kinds AS varchar[]),"
    " CAST(:ats AS timestamp[]), CAST(:details AS text[]))"
    " AS e(client_event_id, kind, at, details)"
    " ON CONFLICT (session_id, client_event_id) DO NOTHING RETURNING id, client_event_id"
).bindparams(bindparam("received_at", type_=UTCDateTime())).columns(
    id=Integer, client_event_id=String)
#: SQLite: a list of rows, which SQLAlchemy sends as one multi-row VALUES (its
#: "insertmanyvalues", up to 1,000 rows a statement), not one INSERT per row.
_INSERT_EVENTS_SQLITE = (sqlite.insert(Event)
                         .on_conflict_do_nothing(index_elements=["session_id",
                                                                 "client_event_id"])
                         .returning(Event.id, Event.client_event_id))
_MARK_LATE_PG = sql(
    "INSERT INTO late_events (event_id, session_id, delay_s)"
    " SELECT e.event_id, :sid, e.delay_s FROM unnest(CAST(:ids AS integer[]),"
    " CAST(:delays AS double precision[])) AS e(event_id, delay_s)")
#: RETURNING, unused, so that the marks go as multi-row VALUES too (without it the rows
#: would be an executemany: one INSERT per row for the database).
_MARK_LATE_SQLITE = insert(LateEvent).returning(LateEvent.id)
_NAIVE_UTC = UTCDateTime()


def written_after_end(events: list[EventIn], end: datetime) -> list[str]:
    """The ids of the events written after the end (refused), first occurrence order."""
    # The end of an outage that began during the exam is the one fact taken from after the
    # end (it explains late deliveries); it says so itself and is marked late like the rest.
    return list(dict.fromkeys(
        e.id for e in events if _utc(e.at) > end + SAVED_AT_TOLERANCE
        and not (e.kind == "network_back" and e.details.get("after_end") is True)))


def store_events(conn: Connection, session_id: str, events: list[EventIn], end: datetime,
                 refused: list[str]) -> int:
    """Insert the events not refused and not known yet (late ones marked); how many.

    No commit: the caller's transaction holds the batch.
    """
    first: dict[str, EventIn] = {}
    for item in events:  # the first of each id is the one kept
        first.setdefault(item.id, item)
    for event_id in refused:
        del first[event_id]
    if not first:
        return 0
    now = clock.now()
    # Sorted by id: two copies of a batch in different orders (a resend while the first is
    # still running) take their row locks in one order, so one waits for the other instead
    # of a deadlock.
    added = _insert_new(conn, session_id, [item for _, item in sorted(first.items())], now)
    if added and now > end:
        _mark_late(conn, session_id, {row.id: round(max(0.0, (
            now - _utc(first[row.client_event_id].at)).total_seconds()), 3) for row in added})
    return len(added)


def _insert_new(conn: Connection, session_id: str, events: list[EventIn],
                now: datetime) -> list:
    """Insert ``events`` in their order, skipping known ids; (id, client_event_id) of each new."""
    if len(events) == 1:
        one = events[0]
        return conn.execute(_INSERT_EVENT, {
            "sid": session_id, "client_id": one.id, "kind": one.kind, "at": one.at,
            "details": one.details, "received_at": now}).all()
    if conn.dialect.name == "postgresql":
        return conn.execute(_INSERT_EVENTS_PG, {
            "sid": session_id, "received_at": now, "ids": [e.id for e in events],
            "kinds": [e.kind for e in events],
            "ats": [_NAIVE_UTC.process_bind_param(e.at, None) for e in events],
            "details": [json.dumps(e.details) for e in events]}).all()
    return conn.execute(_INSERT_EVENTS_SQLITE, [
        {"session_id": session_id, "client_event_id": e.id, "kind": e.kind, "at": e.at,
         "details": e.details, "received_at": now} for e in events]).all()


def _mark_late(conn: Connection, session_id: str, delays: dict[int, float]) -> None:
    """Mark the new events ``delays`` names late by so many seconds."""
    if conn.dialect.name == "postgresql":
        conn.execute(_MARK_LATE_PG, {"sid": session_id, "ids": list(delays),
                                     "delays": list(delays.values())})
        return
    conn.execute(_MARK_LATE_SQLITE, [{"event_id": event_id, "session_id": session_id,
                                      "delay_s": delay} for event_id, delay in delays.items()])


def record_carried_events(conn: Connection, candidate_id: int, session_id: str,
                          carried: str) -> str:
    """Store the events a segment's tus creation carried: the ``Zhishiyun-Events`` header.

    ``carried`` is the base64 text sent as metadata ``events``: the JSON body of
    ``POST /sessions/{sid}/events`` (``{"events": [...]}``), optionally with ``session_id``,
    which must then name the upload's session. The batch is checked as that route checks
    it (the edge filter's JSON rules, :class:`EventBatch`) and stored by the same code
    (:func:`store_events`), all or nothing: a batch with an event written after the end is
    not stored (the client then posts it and gets the route's 409 ``saved_after_end``).
    Returns ``"recorded"`` or ``"not-recorded; reason=<code>"``. Runs in the creation's
    transaction, after the upload was admitted (so the session is the caller's); a racing
    POST of the same events makes no unique violation (they are duplicates). No commit.
    """
    batch = _carried_batch(carried, session_id)
    if isinstance(batch, str):
        return f"not-recorded; reason={batch}"
    end = owned_times(conn, candidate_id, session_id).ends_at
    if written_after_end(batch.events, end):
        return "not-recorded; reason=saved_after_end"
    store_events(conn, session_id, batch.events, end, [])
    return CARRIED_RECORDED


def _carried_batch(carried: str, session_id: str) -> EventBatch | str:
    """The carried batch, or why it is refused (an error code)."""
    if len(carried) > _MAX_CARRIED_TEXT:
        return "events_too_large"
    try:
        raw = base64.b64decode(carried, validate=True)
    except binascii.Error:
        return "bad_base64"
    if len(raw) > MAX_CARRIED_EVENTS_BYTES:
        return "events_too_large"
    if json_problem(raw) is not None:  # what the edge filter refuses in a posted body
        return "invalid_request"
    document = json.loads(raw)
    if not isinstance(document, dict):
        return "invalid_request"
    if document.pop("session_id", session_id) != session_id:
        return "not_this_session"
    try:
        return EventBatch.model_validate(document)
    except ValidationError:
        return "invalid_request"
