"""Tables of the integrity part (revision ``0008_integrity``).

The same revision's ``session_track_ends`` belongs to the recordings:
:class:`zhishiyun_server.evidence.TrackEnd`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from zhishiyun_server import clock
from zhishiyun_server.db import Base, UTCDateTime


class IntegrityOverrides(Base):
    """What the organisation (scope ``org``) or one exam (``exam:<id>``) changed."""

    __tablename__ = "integrity_settings"

    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class SessionIntegrity(Base):
    """What the client reported at entry, and the server's identity-check schedule."""

    __tablename__ = "session_integrity"

    session_id: Mapped[str] = mapped_column(
        ForeignKey("exam_sessions.id", ondelete="CASCADE"), primary_key=True)
    #: ``{camera, camera_backend, microphone, microphone_backend, ...}`` as reported.
    devices: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Stand-in kinds used (``camera_file``, ``no_camera``, ``no_microphone``, ``file_microphone``).
    stand_ins: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Environment signals reported at entry (``[{kind, severity, ...}]``).
    environment: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    #: When the next random identity check is due (None: none scheduled).
    identity_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

