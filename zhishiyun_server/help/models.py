"""Tables of help requests and their replies (migration ``0007_review``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from zhishiyun_server import clock
from zhishiyun_server.db import Base, UTCDateTime


class HelpRequest(Base):
    """One 求助 a candidate sent from the exam window."""

    __tablename__ = "help_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("exam_sessions.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    replies: Mapped[list[HelpReply]] = relationship(
        back_populates="request", order_by="HelpReply.id", cascade="all, delete-orphan")


class HelpReply(Base):
    """A staff member's answer to a help request."""

    __tablename__ = "help_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("help_requests.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    #: Staff account name (shown to staff only; the candidate sees "staff").
    staff_name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    #: The help request row (loaded with the reply).
    request: Mapped[HelpRequest] = relationship(back_populates="replies")
