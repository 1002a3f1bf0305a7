"""Staff login for /review/: server-side sessions behind a cookie, CSRF tokens, audit.

The cookie (:data:`COOKIE`) holds 256 random bits; the database keeps only their SHA-256,
the staff account and a per-session CSRF token, so any number of server processes share
logins. Every form and every JSON POST carries the CSRF token (field ``csrf`` or header
``X-CSRF-Token``). The login form itself is protected by a double-submit cookie.
Failed logins count against the same limiters as candidates' logins.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from zhishiyun_server import clock
from zhishiyun_server.auth.routes import check_rate_limit, record_attempt
from zhishiyun_server.deps import get_db
from zhishiyun_server.errors import ApiProblem
from zhishiyun_server.review.models import AuditEntry, StaffAccount, StaffSession
from zhishiyun_server.security import hash_password, token_digest, verify_password

COOKIE = "zsy_review"
LOGIN_COOKIE = "zsy_review_login"
SESSION_LIFETIME = timedelta(hours=8)
MIN_PASSWORD = 10


#: A numeric id in a console path: within the databases' 32-bit keys (else 422, never a 500).
DbId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class LoginRequired(Exception):
    """A console page was asked for without a valid staff login (becomes a 302)."""


@dataclass
class Staff:
    """The logged-in staff member of a request."""

    account: StaffAccount
    session: StaffSession

    @property
    def name(self) -> str:
        """The account name."""
        return self.account.name

    @property
    def csrf(self) -> str:
        """This login's CSRF token."""
        return self.session.csrf_token


def secure_cookies(request: Request) -> bool:
    """True when cookies must be ``Secure`` (HTTPS here or at the public address)."""
    public = getattr(request.app.state.config, "public_url", "") or ""
    return request.url.scheme == "https" or public.startswith("https://")


def set_cookie(request: Request, response: Response, name: str, value: str,
               max_age: int) -> None:
    """Set a console cookie: HttpOnly, SameSite=Strict, path /review/, Secure on HTTPS."""
    response.set_cookie(name, value, max_age=max_age, path="/review/", httponly=True,
                        samesite="strict", secure=secure_cookies(request))


def find_staff(request: Request, db: Session) -> Staff | None:
    """The staff login behind the request's cookie, or None (expired, revoked, disabled)."""
    token = request.cookies.get(COOKIE, "")
    if not token:
        return None
    row = db.scalar(select(StaffSession).where(StaffSession.token_hash == token_digest(token)))
    if row is None or row.revoked_at is not None or row.expires_at <= clock.now():
        return None
    if row.staff.disabled:
        return None
    return Staff(row.staff, row)


def page_staff(request: Request, db: Session = Depends(get_db)) -> Staff:
    """Dependency for console pages: the staff login, else a redirect to the login page."""
    staff = find_staff(request, db)
    if staff is None:
        raise LoginRequired()
    return staff


def data_staff(request: Request, db: Session = Depends(get_db)) -> Staff:
    """Dependency for console data and media: the staff login, else 401 ``unauthorized``."""
    staff = find_staff(request, db)
    if staff is None:
        raise ApiProblem(401, "unauthorized", "Log in to the review console first.")
    return staff


def check_csrf(staff: Staff, token: str | None) -> None:
    """403 ``csrf_failed`` unless ``token`` is this login's CSRF token."""
    if not token or not hmac.compare_digest(token.encode(), staff.csrf.encode()):
        raise ApiProblem(403, "csrf_failed", "The form token is missing or wrong.")


def address(request: Request) -> str:
    """The client address for the audit log."""
    try:
        from zhishiyun_server.clientaddr import client_address  # trusted proxies
    except ImportError:
        return request.client.host if request.client else "?"
    return client_address(request)


def audit(db: Session, request: Request | None, staff_name: str, action: str,
          target: str = "", **details: object) -> None:
    """Add one audit entry (the caller commits with the action it records)."""
    db.add(AuditEntry(at=clock.now(), staff_name=staff_name, action=action, target=target,
                      address=address(request) if request is not None else "cli",
                      details=details))


def try_login(request: Request, db: Session, name: str, password: str) -> str | None:
    """Check the password; on success a new session's cookie token (committed), else None.

    Failures count against the candidates' login limits (key ``staff:<name>`` and the
    client address).

    Raises:
        ApiProblem: 429 ``too_many_attempts`` (with ``retry_after``) while limited.
    """
    keys = check_rate_limit(request, f"staff:{name}")
    account = db.scalar(select(StaffAccount).where(StaffAccount.name == name))
    ok = verify_password(password, account.password_hash if account else None)
    ok = ok and account is not None and not account.disabled
    record_attempt(request, keys, ok)
    if not ok:
        audit(db, request, name[:100], "login_failed")
        db.commit()
        return None
    token = secrets.token_urlsafe(32)
    db.add(StaffSession(token_hash=token_digest(token), staff_id=account.id,
                        csrf_token=secrets.token_urlsafe(32), created_at=clock.now(),
                        expires_at=clock.now() + SESSION_LIFETIME))
    audit(db, request, account.name, "login")
    db.commit()
    return token


def logout(request: Request, db: Session, staff: Staff) -> None:
    """End this login (the cookie stops working at once) and commit."""
    row = db.merge(staff.session)
    row.revoked_at = clock.now()
    audit(db, request, staff.name, "logout")
    db.commit()


def add_staff(db: Session, name: str, role: str, password: str) -> StaffAccount:
    """Create a staff account, or reset an existing one's role and password (caller commits).

    Raises:
        ValueError: a bad name, role or a too short password (the message says which).
    """
    from zhishiyun_server.review.models import ROLES

    name = name.strip()
    if not name or len(name) > 100:
        raise ValueError("the name must have 1 to 100 characters")
    if role not in ROLES:
        raise ValueError(f"the role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"the password must have at least {MIN_PASSWORD} characters")
    account = db.scalar(select(StaffAccount).where(StaffAccount.name == name))
    if account is None:
        account = StaffAccount(name=name, created_at=clock.now(), disabled=False)
        db.add(account)
    account.role, account.password_hash = role, hash_password(password)
    db.flush()
    return account
