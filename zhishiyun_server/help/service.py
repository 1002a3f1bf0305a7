"""Asking for help and replying: shared by the candidate API, the console and the CLI."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from zhishiyun_server import clock
from zhishiyun_server.errors import ApiProblem, not_found
from zhishiyun_server.help.models import HelpReply, HelpRequest

MAX_TEXT = 2000
#: Requests one session may send (a stuck key must not fill the database).
MAX_REQUESTS_PER_SESSION = 100


def clean_text(text: str) -> str:
    """``text`` stripped; 422 ``invalid_text`` when empty or longer than :data:`MAX_TEXT`."""
    text = (text or "").strip()
    if not text or len(text) > MAX_TEXT:
        raise ApiProblem(422, "invalid_text",
                         f"The text must have 1 to {MAX_TEXT} characters.")
    return text


def ask(db: Session, session_id: str, text: str) -> HelpRequest:
    """Store a help request of ``session_id`` and commit."""
    text = clean_text(text)
    count = db.scalar(select(func.count(HelpRequest.id))
                      .where(HelpRequest.session_id == session_id)) or 0
    if count >= MAX_REQUESTS_PER_SESSION:
        raise ApiProblem(429, "too_many_requests",
                         "This session has sent too many help requests.")
    row = HelpRequest(session_id=session_id, text=text, created_at=clock.now())
    db.add(row)
    db.commit()
    return row


def requests_of(db: Session, session_id: str) -> list[HelpRequest]:
    """The session's help requests, oldest first, with their replies loaded."""
    return list(db.scalars(select(HelpRequest).where(HelpRequest.session_id == session_id)
                           .options(selectinload(HelpRequest.replies))
                           .order_by(HelpRequest.id)))


def reply(db: Session, request_id: int, text: str, staff_name: str) -> HelpReply:
    """Answer help request ``request_id`` as ``staff_name`` and commit (404 when unknown)."""
    text = clean_text(text)
    request = db.get(HelpRequest, request_id)
    if request is None:
        raise not_found("help request")
    row = HelpReply(request_id=request.id, text=text, staff_name=staff_name,
                    created_at=clock.now())
    db.add(row)
    db.commit()
    return row


def public(request: HelpRequest) -> dict[str, Any]:
    """The candidate's view of a request: no staff names."""
    return {"id": request.id, "text": request.text, "created_at": clock.iso(request.created_at),
            "replies": [{"id": r.id, "text": r.text, "created_at": clock.iso(r.created_at),
                         "from": "staff"} for r in request.replies]}
