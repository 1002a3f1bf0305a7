"""A session's facts that never change (owner, exam, key), cached in each process.

And the ones that do change (its finish, the exam's times), read each time in one query
(:func:`owned_times`).

Every candidate posts a manifest line and events every few seconds; reading the whole
session row for each of them only to learn its owner and key is most of what those
requests did with the database. These three facts are set once when the session is created
and never updated, so a per-process cache of them is never stale. What can change (the
finish time, the exam's times) is not here: the requests that depend on it read it.

A session removed from the database (its exam deleted) is refused where it matters: the
rows that reference it fail their foreign key at insert time, and the caller answers 404
after :func:`forget` (see ``recordings.post_manifest``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Integer, String, select
from sqlalchemy import text as sql
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from zhishiyun_server.db import UTCDateTime
from zhishiyun_server.errors import not_found
from zhishiyun_server.models import ExamSession

#: Sessions remembered per process (a whole exam day's worth, at about 200 bytes each).
CACHE_SIZE = 50_000


@dataclass(frozen=True)
class SessionFacts:
    """What an exam session was created with."""

    id: str
    candidate_id: int
    exam_id: int
    session_key: str


_facts: OrderedDict[str, SessionFacts] = OrderedDict()
_lock = threading.Lock()


def owned_facts(db: Session | Connection, candidate_id: int, session_id: str) -> SessionFacts:
    """The facts of ``candidate_id``'s own session ``session_id``, else 404 ``not_found``.

    Read from the database once per process; another candidate's session looks exactly
    like a missing one.
    """
    with _lock:
        facts = _facts.get(session_id)
        if facts is not None:
            _facts.move_to_end(session_id)
    if facts is None:
        row = db.execute(select(ExamSession.candidate_id, ExamSession.exam_id,
                                ExamSession.session_key)
                         .where(ExamSession.id == session_id)).first()
        if row is None:
            raise not_found("session")
        facts = SessionFacts(session_id, row.candidate_id, row.exam_id, row.session_key)
        with _lock:
            _facts[session_id] = facts
            while len(_facts) > CACHE_SIZE:
                _facts.popitem(last=False)
    if facts.candidate_id != candidate_id:
        raise not_found("session")
    return facts


def forget(session_id: str) -> None:
    """Drop ``session_id`` from this process's cache (it was found gone)."""
    with _lock:
        _facts.pop(session_id, None)


@dataclass(frozen=True)
class SessionTimes:
    """What can change about a session, read at each request that depends on it."""

    session_key: str
    starts_at: datetime
    #: The end of the exam's answering time (its start plus its duration).
    exam_ends_at: datetime
    finished_at: datetime | None

    @property
    def ends_at(self) -> datetime:
        """The end of this session: the exam's, or the session's finish when earlier."""
        if self.finished_at is None:
            return self.exam_ends_at
        return min(self.exam_ends_at, self.finished_at)


_TIMES = sql(
    "SELECT s.candidate_id, s.session_key, s.finished_at, e.starts_at, e.duration_s"
    " FROM exam_sessions s JOIN exams e ON e.id = s.exam_id WHERE s.id = :sid"
).columns(candidate_id=Integer, session_key=String, finished_at=UTCDateTime,
          starts_at=UTCDateTime, duration_s=Integer)


def owned_times(db: Session | Connection, candidate_id: int, session_id: str) -> SessionTimes:
    """The key and times of ``candidate_id``'s own session, else 404 (one small query)."""
    conn = db.connection() if isinstance(db, Session) else db
    row = conn.execute(_TIMES, {"sid": session_id}).first()
    if row is None or row.candidate_id != candidate_id:
        raise not_found("session")
    return SessionTimes(row.session_key, row.starts_at,
                        row.starts_at + timedelta(seconds=row.duration_s), row.finished_at)
