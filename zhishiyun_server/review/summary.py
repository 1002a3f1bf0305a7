"""The integrity summary shown on the session page and put into the export.

:func:`integrity_summary` uses the integrity part's ``session_report`` when the server has
it (``zhishiyun_server.integrity.report``); otherwise a summary made here from what the
recordings tables hold: per track received / missing / unsigned / late and the chain, plus
the identity and environment events.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from zhishiyun_server import clock
from zhishiyun_server.models import Event, ExamSession, RecordingSegment
from zhishiyun_server.recordings import ManifestLine, recordings_of

#: A manifest line arriving this long after its segment is ``late``.
LATE_LINE = timedelta(minutes=5)
IDENTITY_PREFIXES = ("identity", "face_")
ENVIRONMENT_PREFIXES = ("display_", "prohibited", "remote_", "vm_", "stand_in", "devices_",
                        "environment")


def integrity_summary(db: Session, session: ExamSession) -> dict[str, Any]:
    """``{"source": "integrity"|"console", ...}``: the integrity report or a local summary."""
    try:
        from zhishiyun_server.integrity.report import session_report
    except ImportError:
        return local_summary(db, session)
    return {"source": "integrity", **session_report(db, session.id)}


def local_summary(db: Session, session: ExamSession) -> dict[str, Any]:
    """A summary from the recordings tables and events (no integrity part needed)."""
    segments = {(s.track, s.seq): s for s in db.scalars(select(RecordingSegment).where(
        RecordingSegment.session_id == session.id))}
    lines = {(row.track, row.seq): row for row in db.scalars(select(ManifestLine).where(
        ManifestLine.session_id == session.id))}
    tracks = {}
    for track, state in recordings_of(db, session).items():
        unsigned = sorted(seq for (tr, seq) in segments if tr == track and (tr, seq) not in lines)
        late = sorted(seq for (tr, seq), line in lines.items() if tr == track
                      and (tr, seq) in segments
                      and line.received_at - segments[(tr, seq)].received_at > LATE_LINE)
        tracks[track] = {"received": len(state.received), "missing": state.missing,
                         "unsigned": unsigned, "late": late, "bytes": state.bytes,
                         "chain_ok": state.chain_ok}
    events = db.scalars(select(Event).where(Event.session_id == session.id)
                        .order_by(Event.at)).all()
    identity = [_event(e) for e in events if e.kind.startswith(IDENTITY_PREFIXES)]
    environment = [_event(e) for e in events if e.kind.startswith(ENVIRONMENT_PREFIXES)]
    return {"source": "console", "tracks": tracks, "identity": identity,
            "environment": environment, "finish_reason": session.finish_reason}


def _event(event: Event) -> dict[str, Any]:
    return {"kind": event.kind, "at": clock.iso(event.at), "details": event.details}
