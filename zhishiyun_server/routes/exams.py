"""My exams: list, lottery, accept, enter (create a session), attachments."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from zhishiyun_server import clock
from zhishiyun_server.deps import current_candidate, get_db
from zhishiyun_server.errors import ApiProblem, not_found
from zhishiyun_server.instruction import instruction_info
from zhishiyun_server.integrity import entry as integrity_entry
from zhishiyun_server.integrity.entry import EnterIn
from zhishiyun_server.models import (
    Attachment,
    Candidate,
    Enrolment,
    Exam,
    ExamSession,
    RecordingSegment,
)
from zhishiyun_server.routes.meta import organisation, recording_settings
from zhishiyun_server.schemas import (
    AcceptReply,
    AttachmentInfo,
    ExamInfo,
    ExamList,
    LotteryReply,
    RecordingSummary,
    SessionReply,
    TrackSummary,
)
from zhishiyun_server.validation import DbId

router = APIRouter(tags=["exams"])


def ends_at(exam: Exam):
    """When the exam's answering time is over."""
    return exam.starts_at + timedelta(seconds=exam.duration_s)


def exam_state(exam: Exam, session: ExamSession | None) -> str:
    """upcoming, open, in_progress, finished or missed (from the candidate's view, now)."""
    now = clock.now()
    if session is not None:
        if session.finished_at is not None or now >= ends_at(exam):
            return "finished"
        return "in_progress"
    if now < exam.entry_opens_at:
        return "upcoming"
    if now <= exam.entry_closes_at:
        return "open"
    return "missed"


def my_enrolment(db: Session, candidate: Candidate, exam_id: int) -> Enrolment:
    """The candidate's enrolment on ``exam_id``, else 404 (not mine looks like missing)."""
    row = db.scalar(select(Enrolment).where(Enrolment.exam_id == exam_id,
                                            Enrolment.candidate_id == candidate.id))
    if row is None:
        raise not_found("exam")
    return row


def my_session(db: Session, candidate: Candidate, exam_id: int) -> ExamSession | None:
    """The candidate's session of ``exam_id`` if they entered it."""
    return db.scalar(select(ExamSession).where(ExamSession.exam_id == exam_id,
                                               ExamSession.candidate_id == candidate.id))


def recording_summary(db: Session, session: ExamSession) -> RecordingSummary:
    """Segments and bytes received per track for ``session``."""
    rows = db.execute(
        select(RecordingSegment.track, func.count(), func.coalesce(func.sum(
            RecordingSegment.bytes), 0))
        .where(RecordingSegment.session_id == session.id).group_by(RecordingSegment.track)
    ).all()
    return RecordingSummary(session_id=session.id, tracks={
        track: TrackSummary(segments=count, bytes=int(total)) for track, count, total in rows})


def attachment_infos(db: Session, exam: Exam) -> list[AttachmentInfo]:
    """Attachments of ``exam`` with their download paths."""
    rows = db.execute(select(Attachment.id, Attachment.filename, Attachment.content_type,
                             func.length(Attachment.content))
                      .where(Attachment.exam_id == exam.id).order_by(Attachment.id)).all()
    return [AttachmentInfo(id=i, filename=name, content_type=ctype, size=int(size or 0),
                           url=f"/api/v1/exams/{exam.id}/attachments/{i}")
            for i, name, ctype, size in rows]


def exam_info(db: Session, enrolment: Enrolment) -> ExamInfo:
    """The ``GET /exams`` entry for one enrolment."""
    exam = enrolment.exam
    session = my_session(db, enrolment.candidate, exam.id)
    return ExamInfo(
        id=exam.id, name=exam.name, kind=exam.kind, entry_opens_at=exam.entry_opens_at,
        entry_closes_at=exam.entry_closes_at, starts_at=exam.starts_at,
        duration_s=exam.duration_s, ends_at=ends_at(exam),
        lottery_required=exam.lottery_required, lottery_number=enrolment.lottery_number,
        accepted=enrolment.accepted_at is not None,
        requires_second_camera=exam.requires_second_camera, rules=exam.rules,
        state=exam_state(exam, session), session_id=session.id if session else None,
        attachments=attachment_infos(db, exam),
        recordings=[recording_summary(db, session)] if session else [],
        instruction=instruction_info(db, exam.id),
    )


@router.get("/exams", response_model=ExamList)
def list_exams(candidate: Candidate = Depends(current_candidate),
               db: Session = Depends(get_db)) -> ExamList:
    """My exams, soonest start first."""
    rows = db.scalars(select(Enrolment).join(Exam).where(Enrolment.candidate_id == candidate.id)
                      .order_by(Exam.starts_at, Exam.id)).all()
    return ExamList(exams=[exam_info(db, row) for row in rows])


@router.get("/exams/{exam_id}", response_model=ExamInfo)
def get_exam(exam_id: DbId, candidate: Candidate = Depends(current_candidate),
             db: Session = Depends(get_db)) -> ExamInfo:
    """One of my exams."""
    return exam_info(db, my_enrolment(db, candidate, exam_id))


@router.get("/exams/{exam_id}/attachments/{attachment_id}",
            response_class=Response, responses={200: {"content": {"application/octet-stream": {}}}})
def download_attachment(exam_id: DbId, attachment_id: DbId,
                        candidate: Candidate = Depends(current_candidate),
                        db: Session = Depends(get_db)) -> Response:
    """The bytes of an attachment of one of my exams."""
    my_enrolment(db, candidate, exam_id)
    row = db.get(Attachment, attachment_id)
    if row is None or row.exam_id != exam_id:
        raise not_found("attachment")
    return Response(row.content, media_type=row.content_type, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{_quote(row.filename)}"})


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


@router.post("/exams/{exam_id}/lottery", response_model=LotteryReply)
def draw_lot(exam_id: DbId, candidate: Candidate = Depends(current_candidate),
             db: Session = Depends(get_db)) -> LotteryReply:
    """Draw my interview order number; once drawn, every later call returns the same one."""
    enrolment = my_enrolment(db, candidate, exam_id)
    if not enrolment.exam.lottery_required:
        raise ApiProblem(409, "lottery_not_required", "This exam has no lottery.")
    for _attempt in range(5):
        if enrolment.lottery_number is not None:
            break
        taken = set(db.scalars(select(Enrolment.lottery_number).where(
            Enrolment.exam_id == exam_id, Enrolment.lottery_number.is_not(None))))
        size = db.scalar(select(func.count()).select_from(Enrolment)
                         .where(Enrolment.exam_id == exam_id)) or 1
        free = [n for n in range(1, size + 1) if n not in taken] or [max(taken, default=0) + 1]
        enrolment.lottery_number = secrets.choice(free)
        try:
            db.commit()
        except IntegrityError:  # pragma: no cover - concurrent draw of the same number
            db.rollback()
            enrolment = my_enrolment(db, candidate, exam_id)
    return LotteryReply(exam_id=exam_id, lottery_number=enrolment.lottery_number)


@router.post("/exams/{exam_id}/accept", response_model=AcceptReply)
def accept_rules(exam_id: DbId, candidate: Candidate = Depends(current_candidate),
                 db: Session = Depends(get_db)) -> AcceptReply:
    """Accept the exam rules (repeating it keeps the first time)."""
    enrolment = my_enrolment(db, candidate, exam_id)
    if enrolment.accepted_at is None:
        enrolment.accepted_at = clock.now()
        db.commit()
    return AcceptReply(exam_id=exam_id, accepted_at=enrolment.accepted_at)


def _fmt(value) -> str:
    return clock.iso(value)


def session_reply(request: Request, db: Session, session: ExamSession) -> SessionReply:
    """The reply of ``POST /exams/{id}/sessions`` for an existing session."""
    base = request.app.state.config.public_url or str(request.base_url).rstrip("/")
    return SessionReply(
        session_id=session.id, session_key=session.session_key, upload_url=f"{base}/files/",
        recording=recording_settings(organisation(db)), exam_id=session.exam_id,
        starts_at=session.exam.starts_at, ends_at=ends_at(session.exam),
        entered_at=session.entered_at, finished_at=session.finished_at)


@router.post("/exams/{exam_id}/sessions", response_model=SessionReply)
def enter_exam(exam_id: DbId, request: Request, candidate: Candidate = Depends(current_candidate),
               db: Session = Depends(get_db), body: EnterIn | None = None) -> SessionReply:
    """Enter: inside the entry window, after accept (and the lot for interviews).

    Entering again (after a crash) returns the same session while the exam is not over.
    The optional body reports devices and environment (:mod:`zhishiyun_server.integrity`).
    """
    enrolment = my_enrolment(db, candidate, exam_id)
    exam = enrolment.exam
    now = clock.now()
    existing = my_session(db, candidate, exam_id)
    if existing is not None:
        if existing.finished_at is not None or now >= ends_at(exam):
            raise ApiProblem(409, "exam_finished", "You have already finished this exam.")
        integrity_entry.record(db, existing, integrity_entry.gate(db, exam, candidate, body))
        return session_reply(request, db, existing)
    window = {"entry_opens_at": _fmt(exam.entry_opens_at),
              "entry_closes_at": _fmt(exam.entry_closes_at)}
    if now < exam.entry_opens_at:
        raise ApiProblem(403, "entry_not_open",
                         f"Entry opens at {window['entry_opens_at']} "
                         f"and closes at {window['entry_closes_at']}.", **window)
    if now > exam.entry_closes_at:
        raise ApiProblem(403, "entry_closed",
                         f"Entry closed at {window['entry_closes_at']} "
                         f"(it opened at {window['entry_opens_at']}).", **window)
    if enrolment.accepted_at is None:
        raise ApiProblem(409, "not_accepted", "Read and accept the exam rules first.")
    if exam.lottery_required and enrolment.lottery_number is None:
        raise ApiProblem(409, "lottery_required", "Draw your lot first.")
    facts = integrity_entry.gate(db, exam, candidate, body)
    session = ExamSession(id=uuid.uuid4().hex, exam_id=exam_id, candidate_id=candidate.id,
                          session_key=secrets.token_hex(32), entered_at=now)
    db.add(session)
    try:
        db.commit()
    except IntegrityError:  # a concurrent entry won: answer with its session
        db.rollback()
        session = my_session(db, candidate, exam_id)
    integrity_entry.record(db, session, facts)
    return session_reply(request, db, session)
