"""Unfinished uploads in the database: their budget, their writer lease, their expiry.

An upload that never completes still holds disk space, up to the length it declared. So a
session's byte budget counts every unfinished upload at its declared length, and an
unfinished upload expires a fixed time after its *creation* (writing to it does not extend
its life), so a candidate cannot fill the disk by creating uploads and trickling bytes.
The rows live in the database, so every server process sees the same budget. The
received part of the budget comes from :class:`SessionTrackTotal` (a row per track, kept
by triggers), so a creation costs the same at a session's 1,000th segment as at its first.

The row also carries the upload's writer lease (``holder``, ``lease_until``; see
:mod:`zhishiyun_server.tus.shared`): taking it is one ``UPDATE``, and the transaction that
records a completed upload deletes the row, which gives the lease back too.

The statements are built once, with bind parameters, and run as Core statements on a
``Connection`` or ``Session``: they run several times per segment of every candidate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Integer,
    String,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from zhishiyun_server import clock
from zhishiyun_server.db import Base, UTCDateTime
from zhishiyun_server.models import ExamSession

#: Longest life of an unfinished upload, whatever the configuration says.
MAX_EXPIRY_S = 7 * 24 * 3600.0
#: Unfinished uploads one session may hold at once (a client uploads a handful in parallel).
MAX_OPEN_PER_SESSION = 64


class PendingUpload(Base):
    """One tus upload that has not received all its bytes yet, and who writes it now."""

    __tablename__ = "pending_uploads"

    upload_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("exam_sessions.id", ondelete="CASCADE"), index=True)
    length: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    #: The PATCH writing it now (a random id), and until when (epoch seconds) unless renewed.
    holder: Mapped[str | None] = mapped_column(String(32), nullable=True)
    lease_until: Mapped[float | None] = mapped_column(Float, nullable=True)


class SessionTrackTotal(Base):
    """A session's received segments of one track and their bytes (kept by triggers).

    Triggers on ``recording_segments`` update the row in the transaction that inserts or
    deletes a segment, whatever code does it, so the totals are exact at every commit.
    """

    __tablename__ = "session_track_totals"

    session_id: Mapped[str] = mapped_column(
        ForeignKey("exam_sessions.id", ondelete="CASCADE"), primary_key=True)
    track: Mapped[str] = mapped_column(String(16), primary_key=True)
    segments: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(BigInteger)


@dataclass(frozen=True)
class Usage:
    """What a session holds now, as one creation's checks need it."""

    #: Unfinished, unexpired uploads.
    open_uploads: int
    #: Received segments plus unfinished uploads at their declared length.
    held_bytes: int
    #: Received segments, and the tracks they are in.
    segments: int
    tracks: int
    #: Whether the track of the upload being created already has a received segment.
    track_known: bool


_SESSION, _NOW = bindparam("p_session", type_=String), bindparam("now", type_=UTCDateTime)


def _pending(column):
    return select(column).where(PendingUpload.session_id == _SESSION,
                                PendingUpload.expires_at > _NOW).scalar_subquery()


def _received(column, *where):
    return select(column).where(SessionTrackTotal.session_id == _SESSION,
                                SessionTrackTotal.segments > 0, *where).scalar_subquery()


# A few rows per session (one per track) whatever the number of segments received: the
# totals are kept by triggers on recording_segments (migration 0013_tus_fast2).
_USAGE = select(
    _pending(func.count()),
    _pending(func.coalesce(func.sum(PendingUpload.length), 0)),
    _received(func.coalesce(func.sum(SessionTrackTotal.bytes), 0)),
    _received(func.coalesce(func.sum(SessionTrackTotal.segments), 0)),
    _received(func.count()),
    _received(func.count(), SessionTrackTotal.track == bindparam("track", type_=String)))

# The session's row is locked (FOR NO KEY UPDATE on PostgreSQL; SQLite has one writer at a
# time anyway) by the insert itself, so creations of one session run one after the other
# and each one's usage, read by the next statement, sees the others' committed rows.
_ADMIT = insert(PendingUpload).from_select(
    ["upload_id", "session_id", "length", "created_at", "expires_at"],
    select(bindparam("a_upload", type_=String), ExamSession.id,
           bindparam("a_length", type_=BigInteger), _NOW,
           bindparam("a_expires", type_=UTCDateTime))
    .where(ExamSession.id == _SESSION,
           ExamSession.candidate_id == bindparam("candidate_id"))
    .with_for_update(key_share=True))

_UPLOAD = bindparam("k_upload", type_=String)
_HOLDER, _EPOCH = bindparam("k_holder", type_=String), bindparam("k_epoch", type_=Float)
_TAKE = update(PendingUpload).where(
    PendingUpload.upload_id == _UPLOAD,
    or_(PendingUpload.holder.is_(None), PendingUpload.lease_until < _EPOCH)).values(
    holder=_HOLDER, lease_until=bindparam("k_until", type_=Float))
# The lease taken in the transaction that will record the upload (PostgreSQL): until then
# it is the row's lock, which a vanished holder (a machine lost, not a process killed: its
# connection closes) would keep until TCP notices. So the same statement tells PostgreSQL
# to end the transaction if its holder stays silent as long as a lease lives.
_TAKE_HELD = _TAKE.where(func.set_config("idle_in_transaction_session_timeout",
                                         bindparam("k_idle", type_=String), True).is_not(None))
_RENEW = update(PendingUpload).where(PendingUpload.upload_id == _UPLOAD,
                                     PendingUpload.holder == _HOLDER).values(
    lease_until=bindparam("k_until", type_=Float))
_RELEASE = update(PendingUpload).where(PendingUpload.upload_id == _UPLOAD,
                                       PendingUpload.holder == _HOLDER).values(
    holder=None, lease_until=None)
_EXISTS = select(PendingUpload.holder).where(PendingUpload.upload_id == _UPLOAD)
_REMOVE_ONE = delete(PendingUpload).where(PendingUpload.upload_id == _UPLOAD)


def usage(db, session_id: str, track: str) -> Usage:
    """The session's uploads, bytes, segments and tracks, in one statement (one round trip)."""
    row = db.execute(_USAGE, {"p_session": session_id, "now": clock.now(),
                              "track": track}).one()
    return Usage(open_uploads=int(row[0] or 0), held_bytes=int(row[1] or 0) + int(row[2] or 0),
                 segments=int(row[3] or 0), tracks=int(row[4] or 0),
                 track_known=bool(row[5]))


def admit(db, upload_id: str, session_id: str, candidate_id: int, length: int,
          expiry_s: float, track: str) -> Usage | None:
    """Count a new upload against its session; the session's usage *with* it in.

    Returns None (and inserts nothing) when ``session_id`` is not ``candidate_id``'s. Does
    not commit: the caller commits when the usage is within the limits, else rolls back.
    """
    now = clock.now()
    added = db.execute(_ADMIT, {"a_upload": upload_id, "p_session": session_id,
                                "candidate_id": candidate_id, "a_length": length, "now": now,
                                "a_expires": now + timedelta(seconds=expiry_s)}).rowcount
    return usage(db, session_id, track) if added else None


def take_lease(db, upload_id: str, holder: str, now: float, lease_s: float,
               commit: bool = True) -> bool | None:
    """Take the upload's writer lease if free or expired (commits unless told not).

    Returns True when taken, False when someone else holds it, None when the upload has no
    row (it was recorded, or removed). Uncommitted (PostgreSQL only), a taken lease is the
    row's lock: other takers wait for the transaction, which commits or rolls back with it,
    and which PostgreSQL ends after ``lease_s`` without a statement.
    """
    return take_lease_reading(db, upload_id, holder, now, lease_s, commit)[0]


class LeaseStatements:
    """The take statements, also returning ``read`` (a scalar subquery of ``:k_upload``).

    A storage that keeps each upload's info in the database reads it with the lease, in
    the same statement, instead of in a second one after it.
    """

    def __init__(self, read=None) -> None:
        self.read = read
        self.take = _TAKE if read is None else _TAKE.returning(read)
        self.take_held = _TAKE_HELD if read is None else _TAKE_HELD.returning(read)


_PLAIN = LeaseStatements()
#: What :func:`take_lease_reading` returns as the read value when it read nothing.
UNREAD = object()


def take_lease_reading(db, upload_id: str, holder: str, now: float, lease_s: float,
                       commit: bool = True,
                       statements: LeaseStatements = _PLAIN) -> tuple[bool | None, object]:
    """:func:`take_lease`, and what ``statements.read`` returned when taken (else UNREAD)."""
    params = {"k_upload": upload_id, "k_holder": holder, "k_epoch": now,
              "k_until": now + lease_s}
    if not commit:
        params["k_idle"] = f"{int(lease_s * 1000)}ms"
    result = db.execute(statements.take if commit else statements.take_held, params)
    read = UNREAD
    if statements.read is None:
        taken = bool(result.rowcount)
    else:
        row = result.first()
        taken, read = row is not None, (row[0] if row is not None else UNREAD)
    if taken and not commit:
        return True, read
    db.commit()
    if taken:
        return True, read
    exists = db.execute(_EXISTS, {"k_upload": upload_id}).first() is not None
    db.rollback()
    return (False if exists else None), UNREAD


def renew_lease(db, upload_id: str, holder: str, until: float) -> bool:
    """Extend ``holder``'s lease; False when it is no longer theirs (commits)."""
    kept = db.execute(_RENEW, {"k_upload": upload_id, "k_holder": holder,
                               "k_until": until}).rowcount
    db.commit()
    return bool(kept)


def release_lease(db, upload_id: str, holder: str) -> None:
    """Give ``holder``'s lease back (no error when it was taken over or the row is gone)."""
    db.execute(_RELEASE, {"k_upload": upload_id, "k_holder": holder})
    db.commit()


def remove(db, upload_ids: list[str], commit: bool = True) -> None:
    """Forget uploads that completed, expired or were terminated (commits unless told not)."""
    if len(upload_ids) == 1:
        db.execute(_REMOVE_ONE, {"k_upload": upload_ids[0]})
    elif upload_ids:
        db.execute(delete(PendingUpload).where(PendingUpload.upload_id.in_(upload_ids)))
    if upload_ids and commit:
        db.commit()


def expired(db: Session, limit: int = 500) -> list[str]:
    """Ids of unfinished uploads past their expiry, oldest first."""
    return list(db.scalars(select(PendingUpload.upload_id).where(
        PendingUpload.expires_at <= clock.now()).order_by(PendingUpload.expires_at)
        .limit(limit)))
