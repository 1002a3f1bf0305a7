"""Passwords (scrypt, a bounded number at once), login tokens (random, stored hashed)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from zhishiyun_server import clock
from zhishiyun_server.models import Candidate, Token

TOKEN_LIFETIME = timedelta(hours=12)
# scrypt cost: N=2**14, r=8 (16 MiB, ~50 ms) - slow for guessing, fine for a login.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


#: scrypt computations at once (each holds 16 MiB): a burst of logins queues here instead
#: of taking all the memory and every worker thread.
SCRYPT_SLOTS = max(2, min(8, os.cpu_count() or 2))
#: Seconds a login waits for a free slot before 503 ``busy``.
SCRYPT_WAIT_S = 15.0
_scrypt_slots = threading.BoundedSemaphore(SCRYPT_SLOTS)


class ServerBusy(Exception):
    """No scrypt slot became free in time."""


def _scrypt(password: bytes, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    if n > 2**20 or r > 32 or p > 16:  # a stored hash from elsewhere must not cost more
        raise ValueError("scrypt parameters out of range")
    if not _scrypt_slots.acquire(timeout=SCRYPT_WAIT_S):
        raise ServerBusy
    try:
        return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p,
                              maxmem=64 * 1024 * 1024, dklen=dklen)
    finally:
        _scrypt_slots.release()


def hash_password(password: str) -> str:
    """A self-describing scrypt hash of ``password``."""
    salt = os.urandom(16)
    digest = _scrypt(password.encode("utf-8"), salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, 32)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str | None) -> bool:
    """True when ``password`` matches ``stored`` (constant-time compare)."""
    if not stored:
        # Spend the same time as a real check so a missing account is not obvious.
        hash_password(password)
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = _scrypt(password.encode("utf-8"), base64.b64decode(salt), int(n), int(r),
                         int(p), len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def token_digest(token: str) -> str:
    """The stored form of a token (tokens are 256-bit random, so SHA-256 suffices)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(
    db: Session, candidate: Candidate, method: str = "password"
) -> tuple[str, datetime]:
    """Create a login token for ``candidate``; returns (token, expires_at). Caller commits."""
    token = secrets.token_urlsafe(32)
    expires = clock.now() + TOKEN_LIFETIME
    db.add(Token(token_hash=token_digest(token), candidate_id=candidate.id, method=method,
                 expires_at=expires))
    return token, expires


def find_token(db: Session, token: str) -> Token | None:
    """The live (not expired, not revoked) token row for ``token``."""
    row = db.scalar(select(Token).where(Token.token_hash == token_digest(token)))
    if row is None or row.revoked_at is not None or row.expires_at <= clock.now():
        return None
    return row
