"""FastAPI dependencies: the database session and the logged-in candidate.

Use them in any router::

    from zhishiyun_server.deps import current_candidate, get_db

    @router.get("/thing")
    def thing(me: Candidate = Depends(current_candidate), db: Session = Depends(get_db)): ...

``owned_session(db, candidate, sid)`` returns the candidate's own exam session or raises
404 (another candidate's id looks exactly like a missing one).

Requests made many times a minute by every candidate (manifest lines, events, tus) use
:func:`current_candidate_id`: the token is looked up once per ``TOKEN_CACHE_S`` per process
instead of once per request; a logout takes effect at once in its own process and within
``TOKEN_CACHE_S`` in the others.

Long requests (a tus PATCH streams its body for seconds) must not hold a pooled database
connection meanwhile: they authenticate with :func:`current_candidate_id`, which looks the
token up in a short-lived session (cached for ``TOKEN_CACHE_S``) and holds nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, sessionmaker

from zhishiyun_server import clock
from zhishiyun_server.errors import ApiProblem, not_found
from zhishiyun_server.models import Candidate, ExamSession, Organisation, Token
from zhishiyun_server.security import token_digest

bearer = HTTPBearer(auto_error=False,
                    description="The token from POST /auth/password or /auth/face")


async def get_db(request: Request) -> AsyncIterator[Session]:
    """A database session for one request (closed afterwards; commit explicitly).

    Async so that FastAPI runs no worker-thread round trip to open and close it (a sync
    generator dependency costs two, on every request). Creating a session does no I/O; a
    session still in a transaction is closed (rolled back) on a worker thread.
    """
    session = request.app.state.session_factory()
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()


def current_token(
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    db: Session = Depends(get_db),
) -> Token:
    """The caller's live token row, or 401 ``unauthorized`` / ``token_expired``."""
    if credentials is None or not credentials.credentials:
        raise ApiProblem(401, "unauthorized", "Log in first.",
                         headers={"WWW-Authenticate": "Bearer"})
    row = db.scalar(select(Token).options(joinedload(Token.candidate))
                    .where(Token.token_hash == token_digest(credentials.credentials)))
    _check_live(row and (row.revoked_at, row.expires_at))
    return row


def _check_live(state: tuple[datetime | None, datetime] | None) -> None:
    """401 unless ``(revoked_at, expires_at)`` describes a live token."""
    if state is None or state[0] is not None:
        raise ApiProblem(401, "unauthorized", "This login is not valid. Log in again.",
                         headers={"WWW-Authenticate": "Bearer"})
    if state[1] <= clock.now():
        raise ApiProblem(401, "token_expired", "This login has expired. Log in again.",
                         headers={"WWW-Authenticate": "Bearer"})


#: Seconds a token lookup is reused by :func:`current_candidate_id` (a logout or revocation
#: reaches every process within this time).
TOKEN_CACHE_S = 5.0


class _TtlCache:
    """A small thread-safe map whose entries live ``ttl`` seconds (bounded in size)."""

    def __init__(self, ttl: float, size: int = 50_000) -> None:
        self.ttl, self.size = ttl, size
        self._items: dict = {}
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            hit = self._items.get(key)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def put(self, key, value) -> None:
        with self._lock:
            if len(self._items) >= self.size:
                self._items.clear()
            self._items[key] = (time.monotonic() + self.ttl, value)

    def drop(self, key) -> None:
        with self._lock:
            self._items.pop(key, None)


_tokens = _TtlCache(TOKEN_CACHE_S)


def token_candidate_id(factory: sessionmaker[Session], token: str) -> int:
    """The candidate id of a live ``token``, else 401; no connection is held afterwards."""
    digest = token_digest(token)
    return _live_candidate(_tokens.get(digest) or _look_up(factory, digest))


def _look_up(factory: sessionmaker[Session], digest: str) -> tuple:
    with factory() as db:
        found = db.execute(select(Token.revoked_at, Token.expires_at, Token.candidate_id)
                           .where(Token.token_hash == digest)).first()
    state = tuple(found) if found is not None else (None,)
    _tokens.put(digest, state)
    return state


def _live_candidate(state: tuple) -> int:
    if len(state) == 1:
        _check_live(None)
    _check_live(state[:2])
    return state[2]


def forget_token(token_hash: str) -> None:
    """Drop a token (by its stored digest) from this process's lookup cache (logout)."""
    _tokens.drop(token_hash)


async def current_candidate_id(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
) -> int:
    """The logged-in candidate's id, for long requests: no database session is held.

    A cached token is answered on the event loop (no worker-thread round trip); only a
    lookup goes to a worker thread.
    """
    if credentials is None or not credentials.credentials:
        raise ApiProblem(401, "unauthorized", "Log in first.",
                         headers={"WWW-Authenticate": "Bearer"})
    digest = token_digest(credentials.credentials)
    state = _tokens.get(digest)
    if state is None:
        state = await run_in_threadpool(_look_up, request.app.state.session_factory, digest)
    return _live_candidate(state)


@dataclass(frozen=True)
class OrgLimits:
    """The organisation's upload limits (read often, changed rarely)."""

    max_upload_bytes: int
    max_session_bytes: int


#: Seconds the organisation's limits are reused before they are read again.
ORG_CACHE_S = 5.0
_orgs = _TtlCache(ORG_CACHE_S, size=16)


def org_limits(factory: sessionmaker[Session]) -> OrgLimits:
    """The organisation's upload limits, from a cache refreshed every ``ORG_CACHE_S``."""
    limits = _orgs.get(id(factory))
    if limits is None:
        with factory() as db:
            row = db.execute(select(Organisation.max_upload_bytes,
                                    Organisation.max_session_bytes)
                             .order_by(Organisation.id).limit(1)).first()
        if row is None:
            defaults = Organisation.__table__.c
            row = (defaults.max_upload_bytes.default.arg,
                   defaults.max_session_bytes.default.arg)
        limits = OrgLimits(int(row[0]), int(row[1]))
        _orgs.put(id(factory), limits)
    return limits


async def current_candidate(token: Token = Depends(current_token)) -> Candidate:
    """The logged-in candidate (Bearer token; loaded with it, so no I/O here)."""
    return token.candidate


def owned_session(db: Session, candidate: Candidate | int, session_id: str,
                  with_exam: bool = False) -> ExamSession:
    """The candidate's (a row or its id) own exam session ``session_id``, else 404.

    ``with_exam`` loads the session's exam in the same query (one round trip, not two).
    """
    owner = candidate if isinstance(candidate, int) else candidate.id
    if with_exam:
        row = db.scalar(select(ExamSession).options(joinedload(ExamSession.exam))
                        .where(ExamSession.id == session_id))
    else:
        row = db.get(ExamSession, session_id)
    if row is None or row.candidate_id != owner:
        raise not_found("session")
    return row
