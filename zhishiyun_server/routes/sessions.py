"""Inside an exam session: papers, answers, proctoring events, finish."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from fastapi import APIRouter, Depends, Response
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from zhishiyun_server import clock
from zhishiyun_server.deps import current_candidate, get_db, owned_session
from zhishiyun_server.errors import ApiProblem, not_found
from zhishiyun_server.integrity import evidence
from zhishiyun_server.models import Answer, Candidate, Event, ExamSession, Paper
from zhishiyun_server.routes.exams import ends_at
from zhishiyun_server.schemas import (
    AnswerIn,
    AnswerReply,
    EventBatch,
    EventsReply,
    FinishIn,
    FinishReply,
    PaperInfo,
    PaperList,
)
from zhishiyun_server.validation import DbId

router = APIRouter(tags=["sessions"])
#: Answers arriving this long after the end still count (queued while offline).
ANSWER_GRACE = timedelta(minutes=10)


def _require_started(session: ExamSession) -> None:
    starts = session.exam.starts_at
    if clock.now() < starts:
        raise ApiProblem(403, "not_started",
                         f"The papers are shown from {clock.iso(starts)} on.",
                         starts_at=clock.iso(starts))


@router.get("/sessions/{session_id}/papers", response_model=PaperList)
def papers(session_id: str, candidate: Candidate = Depends(current_candidate),
           db: Session = Depends(get_db)) -> PaperList:
    """The exam's papers, from the start time on."""
    session = owned_session(db, candidate, session_id)
    _require_started(session)
    rows = db.scalars(select(Paper).where(Paper.exam_id == session.exam_id)
                      .order_by(Paper.position, Paper.id)).all()
    result = []
    for row in rows:
        is_text = row.kind == "text"
        result.append(PaperInfo(
            id=row.id, position=row.position, kind=row.kind, title=row.title,
            filename=row.filename, content_type=row.content_type, size=len(row.content),
            sha256=hashlib.sha256(row.content).hexdigest(),
            text=row.content.decode("utf-8") if is_text else None,
            url=None if is_text else f"/api/v1/sessions/{session_id}/papers/{row.id}/content"))
    return PaperList(session_id=session_id, papers=result)


@router.get("/sessions/{session_id}/papers/{paper_id}/content", response_class=Response,
            responses={200: {"content": {"application/pdf": {}, "image/png": {}}}})
def paper_content(session_id: str, paper_id: DbId,
                  candidate: Candidate = Depends(current_candidate),
                  db: Session = Depends(get_db)) -> Response:
    """The bytes of one paper, from the start time on."""
    session = owned_session(db, candidate, session_id)
    _require_started(session)
    row = db.get(Paper, paper_id)
    if row is None or row.exam_id != session.exam_id:
        raise not_found("paper")
    return Response(row.content, media_type=row.content_type)


def _load(db: Session, where: tuple) -> Answer | None:
    """The stored answer, freshly read (never a stale copy from this session)."""
    return db.scalar(select(Answer).where(*where).execution_options(populate_existing=True))


def _answer_reply(row: Answer) -> AnswerReply:
    return AnswerReply(question_id=row.question_id, version=row.version, content=row.content,
                       updated_at=row.updated_at)


@router.put("/sessions/{session_id}/answers/{question_id}", response_model=AnswerReply)
def put_answer(session_id: str, question_id: str, body: AnswerIn,
               candidate: Candidate = Depends(current_candidate),
               db: Session = Depends(get_db)) -> AnswerReply:
    """Store an answer; an older version never overwrites a newer one (409 ``stale_version``).

    Sending the stored version again with the same content is a no-op (safe to retry).
    """
    if not question_id or len(question_id) > 64:
        raise ApiProblem(422, "invalid_question", "Question ids are 1 to 64 characters.")
    session = owned_session(db, candidate, session_id)
    if session.finished_at is not None and session.finished_at + ANSWER_GRACE < clock.now():
        raise ApiProblem(409, "session_finished", "This exam session is finished.")
    if clock.now() > ends_at(session.exam) + ANSWER_GRACE:
        raise ApiProblem(409, "exam_over", "The time for this exam is over.")
    _require_started(session)
    where = (Answer.session_id == session_id, Answer.question_id == question_id)
    for _attempt in range(3):
        # One conditional UPDATE: the database re-checks "version < new" under its row lock,
        # so two racing saves can never let the older one win.
        changed = db.execute(update(Answer).where(*where, Answer.version < body.version).values(
            version=body.version, content=body.content, updated_at=clock.now())).rowcount
        if changed:
            db.commit()
            return _answer_reply(_load(db, where))
        row = _load(db, where)
        if row is not None:
            if row.version == body.version and row.content == body.content:
                return _answer_reply(row)  # a retry of what is stored
            raise ApiProblem(409, "stale_version",
                             f"A newer answer (version {row.version}) is already saved.",
                             current_version=row.version)
        db.add(Answer(session_id=session_id, question_id=question_id, version=body.version,
                      content=body.content, updated_at=clock.now()))
        try:
            db.commit()
            return _answer_reply(_load(db, where))
        except IntegrityError:  # the first save of this question raced another: re-check
            db.rollback()
    raise ApiProblem(409, "conflict", "The answer changed while saving; try again.")


@router.get("/sessions/{session_id}/answers", response_model=list[AnswerReply])
def list_answers(session_id: str, candidate: Candidate = Depends(current_candidate),
                 db: Session = Depends(get_db)) -> list[AnswerReply]:
    """Every saved answer of the session (to restore after a restart)."""
    owned_session(db, candidate, session_id)
    rows = db.scalars(select(Answer).where(Answer.session_id == session_id)
                      .order_by(Answer.question_id)).all()
    return [_answer_reply(row) for row in rows]


@router.post("/sessions/{session_id}/events", response_model=EventsReply)
def post_events(session_id: str, body: EventBatch,
                candidate: Candidate = Depends(current_candidate),
                db: Session = Depends(get_db)) -> EventsReply:
    """Record proctoring events; an id already known (or repeated in the batch) is skipped."""
    owned_session(db, candidate, session_id)
    ids = {e.id for e in body.events}
    for _attempt in range(3):
        known = set(db.scalars(select(Event.client_event_id).where(
            Event.session_id == session_id, Event.client_event_id.in_(ids)))) if ids else set()
        accepted = 0
        for item in body.events:
            if item.id in known:
                continue
            known.add(item.id)
            db.add(Event(session_id=session_id, client_event_id=item.id, kind=item.kind,
                         at=item.at, details=item.details))
            accepted += 1
        try:
            db.commit()
            return EventsReply(accepted=accepted, duplicates=len(body.events) - accepted)
        except IntegrityError:  # another request stored some of them meanwhile: look again
            db.rollback()
    raise ApiProblem(409, "conflict", "The events changed while saving; try again.")


@router.post("/sessions/{session_id}/finish", response_model=FinishReply)
def finish(session_id: str, body: FinishIn, candidate: Candidate = Depends(current_candidate),
           db: Session = Depends(get_db)) -> FinishReply:
    """End the session; repeating it returns the first end time and reason."""
    session = owned_session(db, candidate, session_id)
    # Conditional: when two finishes race, the first one's time and reason stay.
    db.execute(update(ExamSession).where(ExamSession.id == session_id,
                                         ExamSession.finished_at.is_(None))
               .values(finished_at=clock.now(), finish_reason=body.reason))
    evidence.record_track_ends(db, session_id, body.last_seq)
    db.commit()
    db.refresh(session)
    return FinishReply(session_id=session_id, finished_at=session.finished_at,
                       reason=session.finish_reason or body.reason)
