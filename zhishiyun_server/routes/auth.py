"""Password login, logout and the candidate's profile.

Face login (``POST /auth/face``) lives in ``zhishiyun_server/face/`` and reuses
:func:`login_reply`, :func:`zhishiyun_server.security.issue_token` and the app's
``login_limiter``.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from zhishiyun_server import clock
from zhishiyun_server.deps import current_candidate, current_token, forget_token, get_db
from zhishiyun_server.errors import ApiProblem
from zhishiyun_server.models import Candidate, Token
from zhishiyun_server.routes.meta import organisation
from zhishiyun_server.schemas import (
    CandidateBrief,
    LoginReply,
    OkReply,
    PasswordLogin,
    Profile,
    ProfileUpdate,
)
from zhishiyun_server.security import issue_token, verify_password

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


def check_rate_limit(request: Request, id_number: str) -> list[str]:
    """Raise 429 with Retry-After when this ID number or address failed too often.

    Returns the limiter keys to mark failed (or reset) after the attempt.
    """
    limiter = request.app.state.login_limiter
    by_address = request.app.state.address_limiter
    address = request.client.host if request.client else "?"
    wait = max(limiter.retry_after(f"id:{id_number}"), by_address.retry_after(f"ip:{address}"))
    if wait:
        raise ApiProblem(429, "too_many_attempts",
                         f"Too many failed logins. Try again in {wait} seconds.",
                         headers={"Retry-After": str(wait)}, retry_after=wait)
    return [f"id:{id_number}", f"ip:{address}"]


def record_attempt(request: Request, keys: list[str], ok: bool) -> None:
    """Count a failed login against the keys, or clear the ID number's count on success."""
    limiters = (request.app.state.login_limiter, request.app.state.address_limiter)
    for limiter, key in zip(limiters, keys, strict=True):
        if ok:
            if key.startswith("id:"):
                limiter.reset(key)
        else:
            limiter.failed(key)


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
    ok = verify_password(body.password, candidate.password_hash if candidate else None)
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

