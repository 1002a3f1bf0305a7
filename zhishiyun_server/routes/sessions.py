"""Inside an exam session: papers, answers, proctoring events, finish."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timedelta, timezone

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from zhishiyun_formats.receipt import answers_receipt
from zhishiyun_server import answer_store, clock, evidence
from zhishiyun_server.answer_chain import check_answer_line
from zhishiyun_server.deps import current_candidate, current_candidate_id, get_db, owned_session
from zhishiyun_server.errors import ApiProblem, not_found
from zhishiyun_server.event_store import SAVED_AT_TOLERANCE, store_events, written_after_end
from zhishiyun_server.models import (
    Answer,
    AnswerTiming,
    Candidate,
    ExamSession,
    Paper,
)
from zhishiyun_server.recordings import store_line
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
from zhishiyun_server.session_facts import SessionTimes, owned_times
from zhishiyun_server.validation import DbId

log = logging.getLogger(__name__)
router = APIRouter(tags=["sessions"])
#: Answers without ``saved_at`` (older clients) arriving this long after the end still count.
ANSWER_GRACE = timedelta(minutes=10)
#: ``saved_at`` this far in the future cannot be right.
SAVED_AT_FUTURE = timedelta(minutes=2)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


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


def _answer_reply(row: Answer, timing: AnswerTiming | None) -> AnswerReply:
    known = timing is not None and timing.version == row.version
    return AnswerReply(question_id=row.question_id, version=row.version, content=row.content,
                       updated_at=row.updated_at, saved_at=timing.saved_at if known else None,
                       late=bool(known and timing.late),
                       delay_s=timing.delay_s if known else None)


def _held_reply(question_id: str, row: answer_store.Held) -> AnswerReply:
    known = row.timing_version == row.version
    return AnswerReply(question_id=question_id, version=row.version, content=row.content,
                       updated_at=row.updated_at, saved_at=row.saved_at if known else None,
                       late=bool(known and row.late), delay_s=row.delay_s if known else None)


def _after_end_timing(saved_at: datetime) -> dict:
    """The timing of a version saved after the end (kept in the history, never the answer)."""
    now = clock.now()
    saved_at = _utc(saved_at)
    return {"saved_at": saved_at, "late": True,
            "delay_s": round(max(0.0, (now - saved_at).total_seconds()), 3)}


def _lateness(times: SessionTimes, saved_at: datetime | None) -> dict:
    """``saved_at``/``late``/``delay_s`` of a version, or a 409 when it came too late.

    A version saved before the end (the exam's, or the session's finish when earlier)
    counts however late it arrives and is marked ``late`` with the delivery delay; one
    saved after the end is refused. Without ``saved_at`` the arrival time decides.
    """
    now, end = clock.now(), times.ends_at
    if saved_at is None:
        if times.finished_at is not None and times.finished_at + ANSWER_GRACE < now:
            raise ApiProblem(409, "session_finished", "This exam session is finished.")
        if now > times.exam_ends_at + ANSWER_GRACE:
            raise ApiProblem(409, "exam_over", "The time for this exam is over.")
        return {"saved_at": None, "late": now > end, "delay_s": None}
    # Stored and answered in UTC, as the database gives it back.
    saved_at = _utc(saved_at).astimezone(timezone.utc)
    if saved_at > now + SAVED_AT_FUTURE:
        raise ApiProblem(422, "invalid_saved_at", "saved_at is in the future.")
    if saved_at > end + SAVED_AT_TOLERANCE:
        raise ApiProblem(409, "saved_after_end",
                         f"This version was saved after the end ({clock.iso(end)}).",
                         ends_at=clock.iso(end))
    late = now > end
    return {"saved_at": saved_at, "late": late,
            "delay_s": round((now - saved_at).total_seconds(), 3) if late else None}


def _save(conn: Connection, times: SessionTimes, session_id: str, question_id: str,
          body: AnswerIn) -> AnswerReply:
    """Everything after the chain line: the lateness rules, the answer and its history."""
    # The chain line was checked to describe this version: its hash names it.
    sha256 = json.loads(body.chain)["sha256"] if body.chain is not None else None
    try:
        timing = _lateness(times, body.saved_at)
    except ApiProblem as exc:
        if exc.code == "saved_after_end":  # the candidate wrote it: the reviewer sees it
            answer_store.keep(conn, answer_store.Version(
                session_id, question_id, body.version, body.content,
                _after_end_timing(body.saved_at), sha256), clock.now(), exc.code)
        raise
    if clock.now() < times.starts_at:
        raise ApiProblem(403, "not_started",
                         f"The papers are shown from {clock.iso(times.starts_at)} on.",
                         starts_at=clock.iso(times.starts_at))
    new = answer_store.Version(session_id, question_id, body.version, body.content, timing,
                               sha256)
    for _attempt in range(3):
        now = clock.now()
        if answer_store.take(conn, new, now):
            return AnswerReply(question_id=question_id, version=body.version,
                               content=body.content, updated_at=now, **timing)
        row = answer_store.held(conn, session_id, question_id)
        if row is None or row.version < body.version:
            continue  # a racing first save of the question: look again
        if row.version == body.version and row.content == body.content:
            return _held_reply(question_id, row)  # a retry of what is stored
        answer_store.keep(conn, new, now, "stale_version")
        raise ApiProblem(409, "stale_version",
                         f"A newer answer (version {row.version}) is already saved.",
                         current_version=row.version)
    raise ApiProblem(409, "conflict", "The answer changed while saving; try again.")


@router.put("/sessions/{session_id}/answers/{question_id}", response_model=AnswerReply)
def put_answer(session_id: str, question_id: str, body: AnswerIn, request: Request,
               candidate_id: int = Depends(current_candidate_id)) -> JSONResponse:
    """Store an answer; an older version never overwrites a newer one (409 ``stale_version``).

    Versions saved before the end count however late they arrive (marked ``late``); one
    saved after it is refused (409 ``saved_after_end``).

    Sending the stored version again with the same content is a no-op (safe to retry).
    Every version, also a refused stale one or one saved after the end, is kept in the
    answer's history (:class:`~zhishiyun_server.models.AnswerVersion`).
    """
    # One transaction on a plain connection (Core statements only) for the chain line and
    # the version, committed also when the version is refused: what the candidate wrote is
    # kept.
    if not question_id or len(question_id) > 64:
        raise ApiProblem(422, "invalid_question", "Question ids are 1 to 64 characters.")
    for _attempt in range(3):
        try:
            with request.app.state.engine.connect() as conn:
                times = owned_times(conn, candidate_id, session_id)
                if body.chain is not None:
                    check_answer_line(question_id, body.version, body.content, body.saved_at,
                                      body.chain)
                    store_line(conn, session_id, times.session_key, body.chain)
                try:
                    reply = _save(conn, times, session_id, question_id, body)
                except ApiProblem:
                    conn.commit()  # the line, and a refused version in the history
                    raise
                conn.commit()
            # Dumped once here: returning the model would have FastAPI dump it, validate
            # that again as an AnswerReply and dump it once more.
            return JSONResponse(reply.model_dump(mode="json"))
        except IntegrityError:  # a racing copy of the chain line: it is held, look again
            continue
    raise ApiProblem(409, "conflict", "The answer changed while saving; try again.")


@router.get("/sessions/{session_id}/answers", response_model=list[AnswerReply])
def list_answers(session_id: str, candidate: Candidate = Depends(current_candidate),
                 db: Session = Depends(get_db)) -> list[AnswerReply]:
    """Every saved answer of the session (to restore after a restart)."""
    owned_session(db, candidate, session_id)
    rows = db.scalars(select(Answer).where(Answer.session_id == session_id)
                      .order_by(Answer.question_id)).all()
    timings = {t.question_id: t for t in db.scalars(
        select(AnswerTiming).where(AnswerTiming.session_id == session_id))}
    return [_answer_reply(row, timings.get(row.question_id)) for row in rows]


@router.post("/sessions/{session_id}/events", response_model=EventsReply)
def post_events(session_id: str, body: EventBatch, request: Request,
                candidate_id: int = Depends(current_candidate_id)) -> JSONResponse:
    """Record proctoring events; an id already known (or repeated in the batch) is skipped.

    Events that arrive after the end (queued while offline) are kept like the others and
    marked late with their delay. Events written after the end are refused: the others of
    the batch are stored, then the answer is 409 ``saved_after_end`` naming the refused ids.
    """
    # A connection, not an ORM session: nothing here needs one, and its bookkeeping was a
    # good part of this request's CPU. The reply is built here (its model is the OpenAPI's).
    with request.app.state.engine.begin() as conn:
        end = owned_times(conn, candidate_id, session_id).ends_at
        refused = written_after_end(body.events, end)
        accepted = store_events(conn, session_id, body.events, end, refused)
    if refused:
        log.warning("session %s: %d event(s) written after the end refused", session_id,
                    len(refused))
        raise ApiProblem(409, "saved_after_end",
                         f"{len(refused)} event(s) were written after the end "
                         f"({clock.iso(end)}); the others are stored.",
                         ends_at=clock.iso(end), refused=refused[:100], accepted=accepted)
    return JSONResponse({"accepted": accepted, "duplicates": len(body.events) - accepted})


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
    held = {a.question_id: a.content for a in
            db.scalars(select(Answer).where(Answer.session_id == session_id))}
    return FinishReply(session_id=session_id, finished_at=session.finished_at,
                       reason=session.finish_reason or body.reason,
                       answers_receipt=answers_receipt(held))
