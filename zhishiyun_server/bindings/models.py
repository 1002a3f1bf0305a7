"""The second camera's table: one bind code and, once redeemed, the phone holding it.

A code made from the exam card before entering has no session yet, only the exam and the
candidate; :func:`adopt_pending` hands it to the session once the candidate has entered.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, update
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from zhishiyun_server import clock
from zhishiyun_server.db import Base, UTCDateTime
from zhishiyun_server.models import ExamSession


class Binding(Base):
    """One bind code and, once redeemed, the phone that holds it."""

    __tablename__ = "second_camera_bindings"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: None until the candidate enters, for a code made from the exam card.
    session_id: Mapped[str | None] = mapped_column(
        ForeignKey("exam_sessions.id", ondelete="CASCADE"), index=True, nullable=True)
    #: Set for a code made before entering (the exam and whose it is).
    exam_id: Mapped[int | None] = mapped_column(
        ForeignKey("exams.id", ondelete="CASCADE"), nullable=True, index=True)
    candidate_id: Mapped[int | None] = mapped_column(
        ForeignKey("candidates.id", ondelete="CASCADE"), nullable=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    code_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    credential_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    credential_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    phone_state: Mapped[str] = mapped_column(String(16), default="")
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    buffered: Mapped[int] = mapped_column(Integer, default=0)
    user_agent: Mapped[str] = mapped_column(String(300), default="")

    session: Mapped[ExamSession | None] = relationship()


def adopt_pending(db: Session, session: ExamSession) -> None:
    """Give ``session`` the bindings its candidate made from the exam card before entering."""
    db.execute(update(Binding).where(Binding.session_id.is_(None),
                                     Binding.exam_id == session.exam_id,
                                     Binding.candidate_id == session.candidate_id)
               .values(session_id=session.id))
