"""Binding the phone from the exam card, before entering (``/exams/{id}/bindings``).

Once the entry window is open and the rules are accepted, the candidate may set the phone up
before pressing 进入考试. The code then belongs to the exam and the candidate; the phone page
waits ("已绑定，等待考生进入考试") and the binding joins the session as soon as the candidate
enters (:func:`~zhishiyun_server.bindings.models.adopt_pending`), so the exam window shows
the phone bound and the phone starts recording into that session.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zhishiyun_server import clock
from zhishiyun_server.bindings.models import Binding
from zhishiyun_server.bindings.routes import PHONE_CLIENT_MISSING, _state, issue_code
from zhishiyun_server.bindings.schemas import BindingIn, BindingOut, BindingStatus
from zhishiyun_server.deps import current_candidate, get_db
from zhishiyun_server.errors import ApiProblem, not_found
from zhishiyun_server.models import Candidate, Enrolment, ExamSession
from zhishiyun_server.validation import DbId

router = APIRouter(tags=["second camera"])


def _pending(exam_id: int, candidate_id: int) -> tuple:
    return (Binding.session_id.is_(None), Binding.exam_id == exam_id,
            Binding.candidate_id == candidate_id)


@router.post("/exams/{exam_id}/bindings", response_model=BindingOut)
def create_exam_binding(exam_id: DbId, request: Request, body: BindingIn | None = None,
                        candidate: Candidate = Depends(current_candidate),
                        db: Session = Depends(get_db)) -> BindingOut:
    """A bind code for my exam before I enter it (entry window open, rules accepted)."""
    enrolment = db.scalar(select(Enrolment).where(Enrolment.exam_id == exam_id,
                                                  Enrolment.candidate_id == candidate.id))
    if enrolment is None:
        raise not_found("exam")
    exam, now = enrolment.exam, clock.now()
    if not exam.entry_opens_at <= now <= exam.entry_closes_at:
        raise ApiProblem(409, "entry_not_open", "The phone can be bound from the exam card "
                         "while the entry window is open.")
    if enrolment.accepted_at is None:
        raise ApiProblem(409, "rules_not_accepted", "Accept the exam rules first.")
    session = db.scalar(select(ExamSession).where(ExamSession.exam_id == exam_id,
                                                  ExamSession.candidate_id == candidate.id))
    if session is not None and session.finished_at is not None:
        raise ApiProblem(409, "session_finished", "This exam session is finished.")
    if not request.app.state.phone_page_served:
        raise ApiProblem(503, "phone_page_unavailable", PHONE_CLIENT_MISSING)
    owner = (Binding.session_id == session.id,) if session else _pending(exam_id, candidate.id)
    return issue_code(db, request, body, owner, session_id=session.id if session else None,
                      exam_id=exam_id, candidate_id=candidate.id)


@router.get("/exams/{exam_id}/bindings/status", response_model=BindingStatus)
def exam_binding_status(exam_id: DbId, request: Request,
                        candidate: Candidate = Depends(current_candidate),
                        db: Session = Depends(get_db)) -> BindingStatus:
    """The phone bound from the exam card, as the card shows it (before entering)."""
    if db.scalar(select(Enrolment.id).where(Enrolment.exam_id == exam_id,
                                            Enrolment.candidate_id == candidate.id)) is None:
        raise not_found("exam")
    lost_after_s = request.app.state.config.phone_lost_s
    now = clock.now()
    mine = (Binding.exam_id == exam_id, Binding.candidate_id == candidate.id)
    active = db.scalar(select(Binding).where(
        *mine, Binding.redeemed_at.is_not(None), Binding.revoked_at.is_(None))
        .order_by(Binding.redeemed_at.desc()).limit(1))
    code_active = db.scalar(select(func.count(Binding.id)).where(
        *mine, Binding.redeemed_at.is_(None), Binding.code_expires_at > now)) > 0
    return BindingStatus(
        state=_state(active, now, lost_after_s), code_active=code_active,
        bound_at=active.redeemed_at if active else None,
        last_seen_at=active.last_seen_at if active else None, last_upload_at=None,
        last_upload_seq=None, segments=0, hidden=bool(active and active.hidden),
        buffered=active.buffered if active else 0, lost_after_s=lost_after_s,
        server_time=now)
