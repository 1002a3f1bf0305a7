"""Saving an answer version: the statements of ``PUT /sessions/{sid}/answers/{q}``.

Prebuilt ``text()`` statements on the request's connection: building and cache-keying a
SQLAlchemy expression, or an ORM unit of work, cost more CPU per save than the statements
themselves. Every write is a single statement that settles its own race:

- the answer moves to a newer version only by a conditional ``UPDATE`` (``version < new``,
  re-checked by the database under its row lock), so an older version never wins;
- the first save of a question is an ``INSERT ... ON CONFLICT DO NOTHING`` (a racing first
  save shows as no row, and the caller looks again);
- the timing of the stored version is an upsert, and a version joins the history only once
  (a retry keeps the first copy).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Boolean, Float, Integer, String, Text, bindparam
from sqlalchemy import text as sql
from sqlalchemy.engine import Connection

from zhishiyun_server.db import UTCDateTime


def _typed(statement, **types):
    return statement.bindparams(*(bindparam(name, type_=kind()) for name, kind in types.items()))


_RAISE = _typed(sql(
    "UPDATE answers SET version = :version, content = :content, updated_at = :at"
    " WHERE session_id = :sid AND question_id = :question AND version < :version"
    " RETURNING id"), at=UTCDateTime)
_FIRST = _typed(sql(
    "INSERT INTO answers (session_id, question_id, version, content, updated_at)"
    " VALUES (:sid, :question, :version, :content, :at)"
    " ON CONFLICT (session_id, question_id) DO NOTHING RETURNING id"), at=UTCDateTime)
_HELD = sql(
    "SELECT a.version, a.content, a.updated_at, t.version AS timing_version, t.saved_at,"
    " t.late, t.delay_s FROM answers a LEFT JOIN answer_timings t"
    " ON t.session_id = a.session_id AND t.question_id = a.question_id"
    " WHERE a.session_id = :sid AND a.question_id = :question"
).columns(version=Integer, content=Text, updated_at=UTCDateTime, timing_version=Integer,
          saved_at=UTCDateTime, late=Boolean, delay_s=Float)
_TIMING = _typed(sql(
    "INSERT INTO answer_timings (session_id, question_id, version, saved_at, late, delay_s)"
    " VALUES (:sid, :question, :version, :saved_at, :late, :delay_s)"
    " ON CONFLICT (session_id, question_id) DO UPDATE SET version = excluded.version,"
    " saved_at = excluded.saved_at, late = excluded.late, delay_s = excluded.delay_s"),
    saved_at=UTCDateTime, late=Boolean, delay_s=Float)
_KEEP = _typed(sql(
    "INSERT INTO answer_versions (session_id, question_id, version, content, saved_at,"
    " received_at, late, delay_s, sha256, refused) VALUES (:sid, :question, :version,"
    " :content, :saved_at, :received_at, :late, :delay_s, :sha256, :refused)"
    " ON CONFLICT (session_id, question_id, version) DO NOTHING"),
    saved_at=UTCDateTime, received_at=UTCDateTime, late=Boolean, delay_s=Float,
    sha256=String, refused=String)


@dataclass(frozen=True)
class Version:
    """One answer version as sent: its question, number, text and when it was saved."""

    session_id: str
    question_id: str
    version: int
    content: str
    #: ``saved_at``, ``late`` and ``delay_s`` of this version.
    timing: dict
    #: The ``sha256`` of its line in the ``answers`` chain (None: sent without one).
    sha256: str | None = None

    def _keys(self) -> dict:
        return {"sid": self.session_id, "question": self.question_id,
                "version": self.version}


@dataclass(frozen=True)
class Held:
    """The stored answer of a question and its timing (``timing_version``: whose it is)."""

    version: int
    content: str
    updated_at: datetime
    timing_version: int | None
    saved_at: datetime | None
    late: bool | None
    delay_s: float | None


def take(conn: Connection, new: Version, now: datetime) -> bool:
    """Make ``new`` the answer if it is newer than the stored one (or the first); no commit.

    False: a version as new or newer is stored, or a racing first save of the question is
    being stored (look at :func:`held` and, when there is none yet, try again).
    """
    values = {**new._keys(), "content": new.content, "at": now}
    if conn.execute(_RAISE, values).first() is None and \
            conn.execute(_FIRST, values).first() is None:
        return False
    conn.execute(_TIMING, {**new._keys(), **new.timing})
    keep(conn, new, now)
    return True


def held(conn: Connection, session_id: str, question_id: str) -> Held | None:
    """The stored answer of ``question_id`` with its timing, if any."""
    row = conn.execute(_HELD, {"sid": session_id, "question": question_id}).first()
    return Held(*row) if row is not None else None


def keep(conn: Connection, new: Version, now: datetime, refused: str | None = None) -> None:
    """Add ``new`` to the answer's history unless that version is there; no commit.

    ``refused``: why it is not the answer (``stale_version``, ``saved_after_end``).
    """
    conn.execute(_KEEP, {**new._keys(), **new.timing, "content": new.content,
                         "received_at": now, "sha256": new.sha256, "refused": refused})
