"""The candidate's message centre."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy import select
from sqlalchemy.orm import Session

from zhishiyun_server import clock
from zhishiyun_server.deps import current_candidate, get_db
from zhishiyun_server.errors import not_found
from zhishiyun_server.models import Candidate, Message
from zhishiyun_server.schemas import MessageInfo, MessageList, OkReply
from zhishiyun_server.validation import DbId

router = APIRouter(tags=["messages"])


@router.get("/messages", response_model=MessageList)
def list_messages(candidate: Candidate = Depends(current_candidate),
                  db: Session = Depends(get_db)) -> MessageList:
    """My messages, newest first, and how many are unread."""
    rows = db.scalars(select(Message).where(Message.candidate_id == candidate.id)
                      .order_by(Message.sent_at.desc(), Message.id.desc())).all()
    items = [MessageInfo(id=m.id, title=m.title, body=m.body, sent_at=m.sent_at,
                         read=m.read_at is not None) for m in rows]
    return MessageList(messages=items, unread=sum(not m.read for m in items))


@router.post("/messages/{message_id}/read", response_model=OkReply)
def read_message(message_id: DbId, candidate: Candidate = Depends(current_candidate),
                 db: Session = Depends(get_db)) -> OkReply:
    """Mark one of my messages read."""
    row = db.get(Message, message_id)
    if row is None or row.candidate_id != candidate.id:
        raise not_found("message")
    if row.read_at is None:
        row.read_at = clock.now()
        db.commit()
    return OkReply()
