"""What the exam list and the live wall show, in a few grouped queries."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zhishiyun_formats.answer_chain import ANSWERS_TRACK
from zhishiyun_server import clock
from zhishiyun_server.auth.routes import mask_id_number
from zhishiyun_server.models import (
    Answer,
    Candidate,
    Enrolment,
    Event,
    Exam,
    ExamSession,
    RecordingSegment,
)
from zhishiyun_server.recordings import ManifestLine
from zhishiyun_server.review.models import Verdict
from zhishiyun_server.review.severity import flagging_kinds, severity

#: A candidate is online while something arrived from them within this time.
ONLINE_WITHIN = timedelta(seconds=90)
FLAGS_ON_TILE = 3


def latest_verdicts(db: Session, session_ids: list[str]) -> dict[str, Verdict]:
    """The newest verdict of each session that has one."""
    if not session_ids:
        return {}
    rows = db.scalars(select(Verdict).where(Verdict.session_id.in_(session_ids))
                      .order_by(Verdict.id)).all()
    return {row.session_id: row for row in rows}


def flagged_sessions(db: Session, session_ids: list[str]) -> set[str]:
    """Sessions with a critical event or a verdict other than ``no_issue``."""
    if not session_ids:
        return set()
    kinds = set(db.scalars(select(Event.kind).distinct()
                           .where(Event.session_id.in_(session_ids))))
    flagging = flagging_kinds(kinds)
    flagged = set(db.scalars(select(Event.session_id).distinct().where(
        Event.session_id.in_(session_ids), Event.kind.in_(flagging)))) if flagging else set()
    flagged |= {sid for sid, v in latest_verdicts(db, session_ids).items()
                if v.verdict != "no_issue"}
    return flagged


def exam_rows(db: Session) -> list[dict[str, Any]]:
    """Every exam with its enrolled / entered / in progress / finished / flagged counts."""
    enrolled = dict(db.execute(select(Enrolment.exam_id, func.count(Enrolment.id))
                               .group_by(Enrolment.exam_id)).all())
    sessions = db.execute(select(ExamSession.id, ExamSession.exam_id,
                                 ExamSession.finished_at)).all()
    flagged = flagged_sessions(db, [s.id for s in sessions])
    rows = []
    for exam in db.scalars(select(Exam).order_by(Exam.starts_at)):
        mine = [s for s in sessions if s.exam_id == exam.id]
        rows.append({"exam": exam, "enrolled": enrolled.get(exam.id, 0), "entered": len(mine),
                     "in_progress": sum(1 for s in mine if s.finished_at is None),
                     "finished": sum(1 for s in mine if s.finished_at is not None),
                     "flagged": sum(1 for s in mine if s.id in flagged)})
    return rows


def _latest_by_session(db: Session, column, session_column, ids: list[str]) -> dict:
    return dict(db.execute(select(session_column, func.max(column))
                           .where(session_column.in_(ids)).group_by(session_column)).all())


def last_contact(db: Session, ids: list[str]) -> dict[str, datetime]:
    """When anything (segment, manifest line, event, answer) last arrived per session."""
    latest: dict[str, datetime] = {}
    for column, session_column in (
            (RecordingSegment.received_at, RecordingSegment.session_id),
            (ManifestLine.received_at, ManifestLine.session_id),
            (Event.received_at, Event.session_id), (Answer.updated_at, Answer.session_id)):
        for sid, at in _latest_by_session(db, column, session_column, ids).items():
            if at is not None:
                at = _utc(at)
                latest[sid] = max(latest.get(sid, at), at)
    return latest


def _utc(value: datetime) -> datetime:
    from datetime import timezone

    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def backlog(db: Session, ids: list[str]) -> dict[str, int]:
    """Segments the server knows of (by manifest line or seq gap) but has not received.

    The answers track is signed lines without media, so it has no segments to wait for.
    """
    tops: dict[tuple[str, str], int] = {}
    for model in (RecordingSegment, ManifestLine):
        for sid, track, top in db.execute(
                select(model.session_id, model.track, func.max(model.seq))
                .where(model.session_id.in_(ids), model.track != ANSWERS_TRACK)
                .group_by(model.session_id, model.track)):
            tops[(sid, track)] = max(tops.get((sid, track), -1), top)
    counts = {(sid, track): n for sid, track, n in db.execute(
        select(RecordingSegment.session_id, RecordingSegment.track,
               func.count(RecordingSegment.id)).where(RecordingSegment.session_id.in_(ids))
        .group_by(RecordingSegment.session_id, RecordingSegment.track))}
    result: dict[str, int] = {}
    for (sid, track), top in tops.items():
        result[sid] = result.get(sid, 0) + top + 1 - counts.get((sid, track), 0)
    return result


def latest_camera(db: Session, ids: list[str]) -> dict[str, int]:
    """The newest received camera seq per session."""
    return dict(db.execute(select(RecordingSegment.session_id, func.max(RecordingSegment.seq))
                           .where(RecordingSegment.session_id.in_(ids),
                                  RecordingSegment.track == "camera")
                           .group_by(RecordingSegment.session_id)).all())


def newest_flags(db: Session, session_id: str) -> list[dict[str, Any]]:
    """The newest warning and critical events of a session (newest first)."""
    flags = []
    for event in db.scalars(select(Event).where(Event.session_id == session_id)
                            .order_by(Event.at.desc()).limit(50)):
        level = severity(event.kind, event.details)
        if level != "info":
            flags.append({"kind": event.kind, "severity": level, "at": clock.iso(event.at)})
            if len(flags) == FLAGS_ON_TILE:
                break
    return flags


def wall_tiles(db: Session, exam_id: int) -> list[dict[str, Any]]:
    """One tile per session of the exam: who, online, backlog, latest picture, flags."""
    rows = db.execute(select(ExamSession, Candidate).join(
        Candidate, Candidate.id == ExamSession.candidate_id)
        .where(ExamSession.exam_id == exam_id).order_by(Candidate.name)).all()
    ids = [session.id for session, _ in rows]
    if not ids:
        return []
    contact, waiting, pictures = last_contact(db, ids), backlog(db, ids), latest_camera(db, ids)
    now = clock.now()
    tiles = []
    for session, person in rows:
        seen = contact.get(session.id)
        tiles.append({
            "session_id": session.id, "name": person.name,
            "id_number": mask_id_number(person.id_number),
            "finished": session.finished_at is not None,
            "online": seen is not None and session.finished_at is None
            and now - seen <= ONLINE_WITHIN,
            "last_contact": clock.iso(seen), "backlog": waiting.get(session.id, 0),
            "picture_seq": pictures.get(session.id), "flags": newest_flags(db, session.id)})
    return tiles
