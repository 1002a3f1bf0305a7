"""Random identity checks during the exam: the server asks for a frame when it decides.

The schedule lives only on the server (``session_integrity.identity_due_at``, drawn at
random around ``identity_interval_s``). The client polls ``GET /sessions/{sid}/identity``
and learns only whether a frame is wanted *now*; it then sends one camera JPEG to
``POST /sessions/{sid}/identity``. Each comparison becomes an ``identity_check`` event
(``match``, ``mismatch`` — severe —, ``no_face``, ``several_faces`` …); a frame asked for
and not sent within :data:`ANSWER_WITHIN_S` becomes ``no_frame``. Frames are not kept.
"""

from __future__ import annotations

import base64
import binascii
from datetime import timedelta

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from zhishiyun_server import clock
from zhishiyun_server.deps import current_candidate, get_db, owned_session
from zhishiyun_server.errors import ApiProblem
from zhishiyun_server.integrity import settings as integrity_settings
from zhishiyun_server.integrity.entry import MAX_FRAME_BYTES, schedule_next, server_event
from zhishiyun_server.integrity.models import SessionIntegrity
from zhishiyun_server.models import Candidate, ExamSession

router = APIRouter(tags=["integrity"])
#: A frame asked for and not sent this long after it was due counts as ``no_frame``.
ANSWER_WITHIN_S = 120.0


class IdentityPoll(BaseModel):
    """Whether the server wants a camera frame now."""

    frame_wanted: bool


class IdentityFrame(BaseModel):
    """One camera picture (JPEG, base64)."""

    frame_jpeg: str = Field(min_length=4, max_length=MAX_FRAME_BYTES * 4 // 3 + 8)


class IdentityReply(BaseModel):
    """The outcome of one identity check."""

    result: str


def _facts(db: Session, session: ExamSession) -> SessionIntegrity:
    row = db.get(SessionIntegrity, session.id)
    if row is None:
        row = SessionIntegrity(session_id=session.id, devices={}, stand_ins=[],
                               environment=[])
        row.identity_due_at = schedule_next(integrity_settings.settings_for(db, session.exam_id))
        db.add(row)
        db.commit()
    return row


def _reschedule(db: Session, session: ExamSession, row: SessionIntegrity) -> None:
    row.identity_due_at = schedule_next(integrity_settings.settings_for(db, session.exam_id))


def _open(session: ExamSession) -> bool:
    return session.finished_at is None


@router.get("/sessions/{session_id}/identity", response_model=IdentityPoll)
def identity_poll(session_id: str, candidate: Candidate = Depends(current_candidate),
                  db: Session = Depends(get_db)) -> IdentityPoll:
    """Whether a camera frame is wanted now (the schedule itself is never shown)."""
    session = owned_session(db, candidate, session_id)
    row = _facts(db, session)
    due = row.identity_due_at
    if due is None or not _open(session):
        return IdentityPoll(frame_wanted=False)
    now = clock.now()
    if now > due + timedelta(seconds=ANSWER_WITHIN_S):
        server_event(db, session.id, "identity_check",
                     {"result": "no_frame", "moment": "random", "severity": "warning",
                      "due_at": clock.iso(due)})
        _reschedule(db, session, row)
        db.commit()
        return IdentityPoll(frame_wanted=False)
    return IdentityPoll(frame_wanted=now >= due)


@router.post("/sessions/{session_id}/identity", response_model=IdentityReply)
def identity_frame(session_id: str, body: IdentityFrame,
                   candidate: Candidate = Depends(current_candidate),
                   db: Session = Depends(get_db)) -> IdentityReply:
    """Compare the frame with the enrolled face; 409 ``identity_not_due`` when not asked."""
    session = owned_session(db, candidate, session_id)
    row = _facts(db, session)
    if not _open(session) or row.identity_due_at is None or clock.now() < row.identity_due_at:
        raise ApiProblem(409, "identity_not_due", "No identity check is due now.")
    try:
        jpeg = base64.b64decode(body.frame_jpeg, validate=True)
    except (binascii.Error, ValueError):
        raise ApiProblem(422, "bad_frame", "frame_jpeg is not base64.") from None
    from zhishiyun_server.face.identity import compare_frame

    result = compare_frame(session.candidate, jpeg)
    server_event(db, session.id, "identity_check", {**result.to_dict(), "moment": "random"})
    _reschedule(db, session, row)
    db.commit()
    return IdentityReply(result=result.result)
