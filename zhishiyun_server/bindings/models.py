"""The second camera's table: one bind code and, once redeemed, the phone holding it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from zhishiyun_server import clock
from zhishiyun_server.db import Base, UTCDateTime
from zhishiyun_server.models import ExamSession


class Binding(Base):
    """One bind code and, once redeemed, the phone that holds it."""

    __tablename__ = "second_camera_bindings"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("exam_sessions.id", ondelete="CASCADE"), index=True)
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

    session: Mapped[ExamSession] = relationship()
