"""How timely and complete a session's recordings are, beyond what arrived.

Part of the core recordings model (next to :mod:`zhishiyun_server.recordings`, which
reports it in ``GET /sessions/{sid}/recordings``), so that the integrity report and the
review console read it through ``recordings`` without ``recordings`` importing a feature.
Called from :mod:`zhishiyun_server.recordings` and the finish route:

* :func:`refuse_unsigned_phone`: lines of the ``phone`` track are written by the server
  (``/phone/manifest``, signed with the session key the phone never sees); a client may not
  post one of its own.
* :func:`record_track_ends`: ``POST /sessions/{sid}/finish`` names each track's last seq,
  so a tail that never arrived shows as ``missing``.
* :func:`track_evidence`: per track ``missing`` (up to the named last seq), ``unsigned``
  (a segment with no manifest line) and ``late`` (a line that arrived more than
  :data:`LATE_AFTER_S` after its segment closed, with how late).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from zhishiyun_server import clock
from zhishiyun_server.db import Base, UTCDateTime
from zhishiyun_server.errors import ApiProblem
from zhishiyun_server.seqranges import missing_count, missing_list, missing_ranges

PHONE_TRACK = "phone"
#: A manifest line may trail its segment's end by this much (upload queue, short outages).
LATE_AFTER_S = 120.0
MAX_TRACKS = 16


class TrackEnd(Base):
    """The last seq of a track, as the client named it when finishing (``0008_integrity``)."""

    __tablename__ = "session_track_ends"
    __table_args__ = (UniqueConstraint("session_id", "track"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("exam_sessions.id", ondelete="CASCADE"), index=True)
    track: Mapped[str] = mapped_column(String(16))
    last_seq: Mapped[int] = mapped_column(Integer)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


def refuse_unsigned_phone(track: str) -> None:
    """Raise 422 ``phone_line_not_server_signed`` for a client-posted ``phone`` line."""
    if track == PHONE_TRACK:
        raise ApiProblem(422, "phone_line_not_server_signed",
                         "Lines of the phone track are written by the server, not posted.")


def record_track_ends(db: Session, session_id: str, last_seq: Mapping[str, int] | None) -> None:
    """Remember each track's last seq named at finish (a larger one later wins; no commit)."""
    for track, seq in list((last_seq or {}).items())[:MAX_TRACKS]:
        row = db.scalar(select(TrackEnd).where(TrackEnd.session_id == session_id,
                                               TrackEnd.track == track))
        if row is None:
            db.add(TrackEnd(session_id=session_id, track=track, last_seq=int(seq)))
        elif int(seq) > row.last_seq:
            row.last_seq = int(seq)


def track_ends(db: Session, session_id: str) -> dict[str, int]:
    """The last seq named at finish, per track."""
    return {row.track: row.last_seq for row in db.scalars(
        select(TrackEnd).where(TrackEnd.session_id == session_id))}


def _closed_at(line: str) -> datetime | None:
    try:
        record = json.loads(line)
        start = datetime.fromisoformat(str(record["start"]).replace("Z", "+00:00"))
        from datetime import timedelta

        return start + timedelta(milliseconds=float(record.get("duration_ms") or 0))
    except (ValueError, KeyError, TypeError):
        return None


def late_lines(rows: Iterable[Any], limit_s: float = LATE_AFTER_S) -> list[dict[str, Any]]:
    """``[{seq, late_s}]`` for manifest rows received more than ``limit_s`` after closing."""
    late = []
    for row in rows:
        closed = _closed_at(row.line)
        if closed is None or closed.tzinfo is None or row.received_at is None:
            continue
        delay = (row.received_at - closed).total_seconds()
        if delay > limit_s:
            late.append({"seq": row.seq, "late_s": round(delay, 1)})
    return late


def track_evidence(received: Iterable[int], named: Mapping[int, Any],
                   last_seq: int | None) -> dict[str, Any]:
    """``missing``, ``unsigned`` and ``late`` of one track.

    Args:
        received: seq numbers of the segments that arrived.
        named: manifest rows by seq (``seq``, ``line``, ``received_at``).
        last_seq: the last seq the client named at finish (None: not finished).
    """
    got = set(received)
    top = max([*got, *named, last_seq if last_seq is not None else -1], default=-1)
    gaps = missing_ranges(got, top)  # walks what arrived, never every number up to top
    return {
        "missing": missing_list(gaps),
        "missing_ranges": gaps,
        "missing_count": missing_count(gaps),
        "unsigned": sorted(seq for seq in got if seq not in named),
        "late": late_lines(named.values()),
        "last_seq": last_seq,
    }
