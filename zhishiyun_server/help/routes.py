"""Candidate API: ``POST`` and ``GET /api/v1/sessions/{sid}/help``.

The exam window sends a request with ``POST {text}`` and polls ``GET`` for the replies.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from zhishiyun_server.deps import current_candidate, get_db, owned_session
from zhishiyun_server.help import service
from zhishiyun_server.models import Candidate

router = APIRouter(tags=["help"])


class HelpIn(BaseModel):
    """A help request: what the candidate needs."""

    text: str = Field(min_length=1, max_length=service.MAX_TEXT)


class HelpReplyInfo(BaseModel):
    """A reply from the exam staff."""

    id: int
    text: str
    created_at: datetime
    #: Always ``staff`` (staff names stay inside the console).
    from_: str = Field(alias="from", serialization_alias="from")


class HelpRequestInfo(BaseModel):
    """A help request with its replies so far."""

    id: int
    text: str
    created_at: datetime
    replies: list[HelpReplyInfo]


class HelpList(BaseModel):
    """Every help request of the session, oldest first."""

    requests: list[HelpRequestInfo]


def _info(row) -> HelpRequestInfo:
    return HelpRequestInfo.model_validate(service.public(row))


@router.post("/sessions/{session_id}/help", response_model=HelpRequestInfo, status_code=201,
             response_model_by_alias=True)
def ask_for_help(session_id: str, body: HelpIn,
                 candidate: Candidate = Depends(current_candidate),
                 db: Session = Depends(get_db)) -> HelpRequestInfo:
    """Send a 求助 to the exam staff (replies come with ``GET``)."""
    owned_session(db, candidate, session_id)
    row = service.ask(db, session_id, body.text)
    return _info(row)


@router.get("/sessions/{session_id}/help", response_model=HelpList,
            response_model_by_alias=True)
def list_help(session_id: str, candidate: Candidate = Depends(current_candidate),
              db: Session = Depends(get_db)) -> HelpList:
    """My help requests in this session with the staff's replies."""
    owned_session(db, candidate, session_id)
    return HelpList(requests=[_info(r) for r in service.requests_of(db, session_id)])
