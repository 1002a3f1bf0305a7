"""Unfinished uploads in the database: what they may still grow to, and when they expire.

An upload that never completes still holds disk space, up to the length it declared. So a
session's byte budget counts every unfinished upload at its declared length, and an
unfinished upload expires a fixed time after its *creation* (writing to it does not extend
its life), so a candidate cannot fill the disk by creating uploads and trickling bytes.
The rows live in the database, so every server process sees the same budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import BigInteger, ForeignKey, String, delete, func, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from zhishiyun_server import clock
from zhishiyun_server.db import Base, UTCDateTime
from zhishiyun_server.models import RecordingSegment

#: Longest life of an unfinished upload, whatever the configuration says.
MAX_EXPIRY_S = 7 * 24 * 3600.0
#: Unfinished uploads one session may hold at once (a client uploads a handful in parallel).
MAX_OPEN_PER_SESSION = 64


class PendingUpload(Base):
    """One tus upload that has not received all its bytes yet."""

    __tablename__ = "pending_uploads"

    upload_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("exam_sessions.id", ondelete="CASCADE"), index=True)
    length: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


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


def _pending(session_id: str, column):
    return select(column).where(PendingUpload.session_id == session_id,
                                PendingUpload.expires_at > clock.now()).scalar_subquery()


def _received(session_id: str, column, *where):
    return select(column).where(RecordingSegment.session_id == session_id,
                                *where).scalar_subquery()


def usage(db: Session, session_id: str, track: str) -> Usage:
    """The session's uploads, bytes, segments and tracks, in one statement (one round trip)."""
    row = db.execute(select(
        _pending(session_id, func.count()),
        _pending(session_id, func.coalesce(func.sum(PendingUpload.length), 0)),
        _received(session_id, func.coalesce(func.sum(RecordingSegment.bytes), 0)),
        _received(session_id, func.count()),
        _received(session_id, func.count(func.distinct(RecordingSegment.track))),
        _received(session_id, func.count(), RecordingSegment.track == track))).one()
    return Usage(open_uploads=int(row[0] or 0), held_bytes=int(row[1] or 0) + int(row[2] or 0),
                 segments=int(row[3] or 0), tracks=int(row[4] or 0),
                 track_known=bool(row[5]))


def held_bytes(db: Session, session_id: str) -> int:
    """Bytes the session holds: received segments plus unfinished uploads at full length."""
    row = db.execute(select(
        _pending(session_id, func.coalesce(func.sum(PendingUpload.length), 0)),
        _received(session_id, func.coalesce(func.sum(RecordingSegment.bytes), 0)))).one()
    return int(row[0] or 0) + int(row[1] or 0)



def add(db: Session, upload_id: str, session_id: str, length: int, expiry_s: float) -> None:
    """Record a new unfinished upload (commits)."""
    now = clock.now()
    db.execute(insert(PendingUpload).values(  # Core: one row, no unit-of-work bookkeeping
        upload_id=upload_id, session_id=session_id, length=length, created_at=now,
        expires_at=now + timedelta(seconds=expiry_s)))
    db.commit()


def remove(db: Session, upload_ids: list[str], commit: bool = True) -> None:
    """Forget uploads that completed, expired or were terminated (commits unless told not)."""
    if upload_ids:
        db.execute(delete(PendingUpload).where(PendingUpload.upload_id.in_(upload_ids)))
        if commit:
            db.commit()


def expired(db: Session, limit: int = 500) -> list[str]:
    """Ids of unfinished uploads past their expiry, oldest first."""
    return list(db.scalars(select(PendingUpload.upload_id).where(
        PendingUpload.expires_at <= clock.now()).order_by(PendingUpload.expires_at)
        .limit(limit)))
