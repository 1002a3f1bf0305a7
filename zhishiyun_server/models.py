"""Tables of the reference server (SQLAlchemy 2 declarative).

Seams for other parts: ``Candidate.photo_jpeg`` / ``Candidate.face_embedding`` (face
verification fills the embedding), ``ExamSession.session_key`` (manifest HMAC) and
``RecordingSegment`` (the tus endpoint records every completed segment there). Any new
table goes on :class:`zhishiyun_server.db.Base` with its own Alembic revision.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from zhishiyun_server import clock
from zhishiyun_server.db import Base, UTCDateTime

EXAM_KINDS = ("written", "interview")
PAPER_KINDS = ("pdf", "image", "text")


class Organisation(Base):
    """The one organisation running this server, and its settings for clients."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    support_phone: Mapped[str] = mapped_column(String(64), default="")
    support_qq: Mapped[str] = mapped_column(String(64), default="")
    support_email: Mapped[str] = mapped_column(String(200), default="")
    support_hours: Mapped[str] = mapped_column(String(200), default="")
    password_login: Mapped[bool] = mapped_column(Boolean, default=False)
    face_login: Mapped[bool] = mapped_column(Boolean, default=False)
    #: List of NTP host names for the clients' clock check (empty: client defaults).
    ntp_servers: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Overrides of zhishiyun.config.CheckThresholds, field by field.
    checks: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Overrides of zhishiyun.config.RecordingSettings, field by field.
    recording: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    max_upload_bytes: Mapped[int] = mapped_column(BigInteger, default=200 * 1024 * 1024)
    max_session_bytes: Mapped[int] = mapped_column(BigInteger, default=2 * 1024 * 1024 * 1024)
    #: Days a client keeps a session's files after the server confirmed them all (0: at once).
    local_retention_days: Mapped[float] = mapped_column(Float, default=7.0, server_default="7")


class Candidate(Base):
    """A person who may sit exams."""

    __tablename__ = "candidates"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    id_number: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    phone: Mapped[str] = mapped_column(String(32), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    #: The enrolled ID photo (JPEG bytes) from the roster.
    photo_jpeg: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    #: Face embedding computed from the photo by the face-verification part (float32 bytes).
    face_embedding: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    #: scrypt hash ("scrypt$n$r$p$salt$hash"); None: no password login for this person.
    password_hash: Mapped[str | None] = mapped_column(String(300), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class Token(Base):
    """A login token; only its SHA-256 is stored."""

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"))
    method: Mapped[str] = mapped_column(String(16), default="password")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    candidate: Mapped[Candidate] = relationship()


class Exam(Base):
    """A written exam or an interview with its entry window and start time."""

    __tablename__ = "exams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # written | interview
    entry_opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    entry_closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_s: Mapped[int] = mapped_column(Integer)
    lottery_required: Mapped[bool] = mapped_column(Boolean, default=False)
    requires_second_camera: Mapped[bool] = mapped_column(Boolean, default=False)
    rules: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class Enrolment(Base):
    """A candidate on an exam's roster: lot drawn, rules accepted."""

    __tablename__ = "enrolments"
    __table_args__ = (UniqueConstraint("exam_id", "candidate_id"),
                      UniqueConstraint("exam_id", "lottery_number"))

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), index=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"))
    lottery_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    exam: Mapped[Exam] = relationship()
    candidate: Mapped[Candidate] = relationship()


class ExamSession(Base):
    """A candidate's sitting of an exam, from entry to finish."""

    __tablename__ = "exam_sessions"
    __table_args__ = (UniqueConstraint("exam_id", "candidate_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), index=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"))
    #: Secret for the manifest HMAC (hex); handed to the client once per entry.
    session_key: Mapped[str] = mapped_column(String(128))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finish_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)

    exam: Mapped[Exam] = relationship()
    candidate: Mapped[Candidate] = relationship()


class Paper(Base):
    """Exam content shown from the start time on: a PDF, an image or text."""

    __tablename__ = "papers"

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(16))  # pdf | image | text
    title: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(200), default="")
    content_type: Mapped[str] = mapped_column(String(100), default="text/plain")
    content: Mapped[bytes] = mapped_column(LargeBinary, default=b"")


class Attachment(Base):
    """A file candidates may read before the exam (notice, rules, sample)."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    content: Mapped[bytes] = mapped_column(LargeBinary)


class Answer(Base):
    """The latest version of a written answer to one question."""

    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("session_id", "question_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("exam_sessions.id", ondelete="CASCADE"), index=True)
    question_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class AnswerTiming(Base):
    """When the stored version of an answer was saved, and whether it arrived late."""

    __tablename__ = "answer_timings"
    __table_args__ = (UniqueConstraint("session_id", "question_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("exam_sessions.id", ondelete="CASCADE"), index=True)
    question_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    #: When the candidate saved it (the client's server time); NULL: the client did not say.
    saved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: It arrived after the end (saved before it); ``delay_s``: from saving to arriving.
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    delay_s: Mapped[float | None] = mapped_column(Float, nullable=True)


class AnswerVersion(Base):
    """Every version of an answer the candidate saved, also those not taken as the answer.

    The answer itself (:class:`Answer`) is the newest version saved before the end; the
    others stay here for the reviewer: older versions, versions that arrived after a newer
    one (``refused="stale_version"``) and versions saved after the end
    (``refused="saved_after_end"``).
    """

    __tablename__ = "answer_versions"
    __table_args__ = (UniqueConstraint("session_id", "question_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("exam_sessions.id", ondelete="CASCADE"), index=True)
    question_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)
    #: When the candidate saved it (the client's server time); NULL: the client did not say.
    saved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    #: It arrived after the end; ``delay_s``: from saving to arriving.
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    delay_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: The ``sha256`` of its line in the ``answers`` chain; NULL: it came without a line.
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: Why it is not the answer (``stale_version``, ``saved_after_end``); NULL: it was taken.
    refused: Mapped[str | None] = mapped_column(String(32), nullable=True)


class Event(Base):
    """A proctoring event reported by the client (idempotent by client event id)."""

    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("session_id", "client_event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("exam_sessions.id", ondelete="CASCADE"), index=True)
    client_event_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class LateEvent(Base):
    """An event that arrived after the end although it happened before (queued offline)."""

    __tablename__ = "late_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), unique=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("exam_sessions.id", ondelete="CASCADE"), index=True)
    #: From when it happened to when it arrived.
    delay_s: Mapped[float] = mapped_column(Float)


class Message(Base):
    """A message to one candidate (a broadcast is one row per candidate)."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(
        ForeignKey("candidates.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Release(Base):
    """A published client release with its Ed25519-signed manifest."""

    __tablename__ = "releases"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(32), index=True)
    version: Mapped[str] = mapped_column(String(32))
    minimum_version: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(String(1000))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    notes: Mapped[str] = mapped_column(Text, default="")
    #: The exact UTF-8 JSON text that was signed (clients verify these bytes).
    manifest: Mapped[str] = mapped_column(Text)
    #: Base64 Ed25519 signature of ``manifest``.
    signature: Mapped[str] = mapped_column(String(200))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class RecordingSegment(Base):
    """A recording segment the server has received in full (written by the tus endpoint)."""

    __tablename__ = "recording_segments"
    __table_args__ = (UniqueConstraint("session_id", "track", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("exam_sessions.id", ondelete="CASCADE"), index=True)
    track: Mapped[str] = mapped_column(String(16))  # screen | camera
    seq: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    #: Where the storage backend keeps it (never a client-supplied path).
    storage_key: Mapped[str] = mapped_column(String(500), default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
