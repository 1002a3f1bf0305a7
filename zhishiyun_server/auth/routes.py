"""Password login, logout and the candidate's profile.

Face login (``POST /auth/face``) lives in ``zhishiyun_server/face/`` and reuses
:func:`login_reply`, :func:`zhishiyun_server.security.issue_token` and the failed-login
limits (:func:`check_rate_limit` and friends, :mod:`zhishiyun_server.login_limits`).
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from zhishiyun_server import clock, login_limits
from zhishiyun_server.clientaddr import client_address
from zhishiyun_server.deps import current_candidate, current_token, forget_token, get_db
from zhishiyun_server.errors import ApiProblem
from zhishiyun_server.login_limits import Reservation
from zhishiyun_server.models import Candidate, Token
from zhishiyun_server.organisation import organisation
from zhishiyun_server.schemas import (
    CandidateBrief,
    LoginReply,
    OkReply,
    PasswordLogin,
    Profile,
    ProfileUpdate,
)
from zhishiyun_server.security import ServerBusy, issue_token, verify_password

router = APIRouter(tags=["auth"])
PHONE = re.compile(r"^1[3-9]\d{9}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def mask_id_number(id_number: str) -> str:
    """``110***********11``: first 3 and last 2 characters."""
    if len(id_number) <= 5:
        return "*" * len(id_number)
    return id_number[:3] + "*" * (len(id_number) - 5) + id_number[-2:]


def login_reply(db: Session, candidate: Candidate, method: str) -> LoginReply:
    """Issue a token for ``candidate`` and commit; the reply of every login call."""
    token, expires = issue_token(db, candidate, method)
    db.commit()
    return LoginReply(token=token, expires_at=expires, candidate=CandidateBrief(
        name=candidate.name, id_number_masked=mask_id_number(candidate.id_number)))


def check_rate_limit(request: Request, id_number: str) -> Reservation:
    """Reserve one login attempt for this ID number from this client, or raise 429.

    The reservation counts as a failure until :func:`record_attempt` says it succeeded
    (or :func:`release_attempt` withdraws it), so a burst of attempts counts in full.
    """
    app = request.app
    return login_limits.reserve(app.state.session_factory, app.state.login_limits,
                                id_number, client_address(request))


def record_attempt(request: Request, keys: Reservation, ok: bool) -> None:
    """After the check: a success clears this ID number's failures from this client."""
    login_limits.settle(request.app.state.session_factory, keys, ok)


def release_attempt(request: Request, keys: Reservation) -> None:
    """Withdraw a reservation that was not a failed login (e.g. the identity matched)."""
    login_limits.release(request.app.state.session_factory, keys)


def record_address_failure(request: Request) -> None:
    """One failure counted against the client's address only (e.g. a refused face)."""
    login_limits.failed(request.app.state.session_factory, "", client_address(request))


@router.post("/auth/password", response_model=LoginReply)
def login_password(body: PasswordLogin, request: Request,
                   db: Session = Depends(get_db)) -> LoginReply:
    """ID number + password → token (only when the organisation allows password login)."""
    if not organisation(db).password_login:
        raise ApiProblem(403, "password_login_disabled",
                         "Password login is not enabled by the organisation. Log in by face.")
    id_number = body.id_number.strip().upper()
    keys = check_rate_limit(request, id_number)
    candidate = db.scalar(select(Candidate).where(Candidate.id_number == id_number))
    try:
        ok = verify_password(body.password, candidate.password_hash if candidate else None)
    except ServerBusy:
        release_attempt(request, keys)
        raise
    record_attempt(request, keys, ok)
    if not ok or candidate is None:
        raise ApiProblem(401, "invalid_credentials", "ID number or password is wrong.")
    return login_reply(db, candidate, "password")


@router.post("/auth/logout", response_model=OkReply)
def logout(token: Token = Depends(current_token), db: Session = Depends(get_db)) -> OkReply:
    """End this login (the token stops working at once)."""
    row = db.merge(token)
    row.revoked_at = clock.now()
    db.commit()
    forget_token(row.token_hash)  # other processes stop accepting it within seconds
    return OkReply()


def _profile(candidate: Candidate) -> Profile:
    return Profile(name=candidate.name, id_number_masked=mask_id_number(candidate.id_number),
                   phone=candidate.phone, email=candidate.email,
                   has_photo=candidate.photo_jpeg is not None)


@router.get("/me", response_model=Profile)
def me(candidate: Candidate = Depends(current_candidate)) -> Profile:
    """My profile."""
    return _profile(candidate)


@router.get("/me/photo", response_class=Response,
            responses={200: {"content": {"image/jpeg": {}}}})
def my_photo(candidate: Candidate = Depends(current_candidate)) -> Response:
    """My enrolled ID photo (JPEG), for the profile page."""
    if candidate.photo_jpeg is None:
        raise ApiProblem(404, "no_photo", "No ID photo is on file.")
    return Response(candidate.photo_jpeg, media_type="image/jpeg",
                    headers={"Cache-Control": "private, no-store"})


@router.patch("/me", response_model=Profile)
def update_me(body: ProfileUpdate, candidate: Candidate = Depends(current_candidate),
              db: Session = Depends(get_db)) -> Profile:
    """Change my phone number or e-mail address."""
    row = db.merge(candidate)
    if body.phone is not None:
        phone = body.phone.strip()
        if phone and not PHONE.match(phone):
            raise ApiProblem(422, "invalid_phone", "The phone number must be 11 digits.")
        row.phone = phone
    if body.email is not None:
        email = body.email.strip()
        if email and not EMAIL.match(email):
            raise ApiProblem(422, "invalid_email", "The e-mail address is not valid.")
        row.email = email
    db.commit()
    return _profile(row)

