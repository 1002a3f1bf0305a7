"""FastAPI dependencies: the database session and the logged-in candidate.

Use them in any router::

    from zhishiyun_server.deps import current_candidate, get_db

    @router.get("/thing")
    def thing(me: Candidate = Depends(current_candidate), db: Session = Depends(get_db)): ...

``owned_session(db, candidate, sid)`` returns the candidate's own exam session or raises
404 (another candidate's id looks exactly like a missing one).
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from zhishiyun_server import clock
from zhishiyun_server.errors import ApiProblem, not_found
from zhishiyun_server.models import Candidate, ExamSession, Token
from zhishiyun_server.security import token_digest

bearer = HTTPBearer(auto_error=False,
                    description="The token from POST /auth/password or /auth/face")


def get_db(request: Request) -> Iterator[Session]:
    """A database session for one request (closed afterwards; commit explicitly)."""
    session = request.app.state.session_factory()
    try:
        yield session
    finally:
        session.close()


def current_token(
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    db: Session = Depends(get_db),
) -> Token:
    """The caller's live token row, or 401 ``unauthorized`` / ``token_expired``."""
    if credentials is None or not credentials.credentials:
        raise ApiProblem(401, "unauthorized", "Log in first.",
                         headers={"WWW-Authenticate": "Bearer"})
    row = db.scalar(select(Token).where(Token.token_hash == token_digest(credentials.credentials)))
    if row is None or row.revoked_at is not None:
        raise ApiProblem(401, "unauthorized", "This login is not valid. Log in again.",
                         headers={"WWW-Authenticate": "Bearer"})
    if row.expires_at <= clock.now():
        raise ApiProblem(401, "token_expired", "This login has expired. Log in again.",
                         headers={"WWW-Authenticate": "Bearer"})
    return row


def current_candidate(token: Token = Depends(current_token)) -> Candidate:
    """The logged-in candidate (Bearer token)."""
    return token.candidate


def owned_session(db: Session, candidate: Candidate, session_id: str) -> ExamSession:
    """The candidate's own exam session ``session_id``, else 404 ``not_found``."""
    row = db.get(ExamSession, session_id)
    if row is None or row.candidate_id != candidate.id:
        raise not_found("session")
    return row
