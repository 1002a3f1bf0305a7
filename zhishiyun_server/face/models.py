"""Face-login tables: challenges, attempts (the audit log) and manual reviews."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from zhishiyun_server import clock
from zhishiyun_server.db import Base, UTCDateTime
from zhishiyun_server.models import Candidate


class FaceChallenge(Base):
    """A random sequence of actions, valid once and only until it expires."""

    __tablename__ = "face_challenges"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    candidate_id: Mapped[int] = mapped_column(
        ForeignKey("candidates.id", ondelete="CASCADE"), index=True)
    actions: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class FaceAttempt(Base):
    """One face-login event: accepted, refused (with the failed stage), cancelled, review."""

    __tablename__ = "face_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(
        ForeignKey("candidates.id", ondelete="CASCADE"), index=True)
    challenge_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    #: accepted | refused | cancelled | enrolled
    outcome: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(16), default="")
    code: Mapped[str] = mapped_column(String(40), default="")
    distance: Mapped[float | None] = mapped_column(Float, nullable=True)
    frames: Mapped[int] = mapped_column(Integer, default=0)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    client_address: Mapped[str] = mapped_column(String(64), default="")
    #: One frontal frame, kept only while the organisation's retention allows (else None).
    evidence_jpeg: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class FaceReview(Base):
    """A photo of the candidate holding their ID card, queued for staff to approve."""

    __tablename__ = "face_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(
        ForeignKey("candidates.id", ondelete="CASCADE"), index=True)
    photo_jpeg: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    #: SHA-256 of the secret the client polls with (the secret itself is never stored).
    secret_hash: Mapped[str] = mapped_column(String(64))
    #: pending | approved | rejected
    status: Mapped[str] = mapped_column(String(16), default="pending")
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decided_by: Mapped[str] = mapped_column(String(100), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    token_issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    candidate: Mapped[Candidate] = relationship()
