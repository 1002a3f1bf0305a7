"""Passwords (scrypt), login tokens (random, stored hashed) and the login rate limit."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
import time
from collections import deque
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from zhishiyun_server import clock
from zhishiyun_server.models import Candidate, Token

TOKEN_LIFETIME = timedelta(hours=12)
# scrypt cost: N=2**14, r=8 (16 MiB, ~50 ms) - slow for guessing, fine for a login.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


def hash_password(password: str) -> str:
    """A self-describing scrypt hash of ``password``."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R,
                            p=SCRYPT_P, maxmem=64 * 1024 * 1024, dklen=32)
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
        actual = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt),
                                n=int(n), r=int(r), p=int(p), maxmem=64 * 1024 * 1024,
                                dklen=len(expected))
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


class RateLimiter:
    """Sliding-window limit on failed attempts per key (e.g. ID number, client address)."""

    def __init__(self, max_failures: int, window_s: float) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _prune(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times

    def retry_after(self, key: str) -> int:
        """Seconds until ``key`` may try again; 0 when it may try now."""
        now = time.monotonic()
        with self._lock:
            times = self._prune(key, now)
            if len(times) < self.max_failures:
                return 0
            return max(1, int(times[0] + self.window_s - now + 0.999))

    def failed(self, key: str) -> None:
        """Record one failed attempt for ``key``."""
        with self._lock:
            self._prune(key, time.monotonic()).append(time.monotonic())

    def reset(self, key: str) -> None:
        """Forget ``key``'s failures (after a success)."""
        with self._lock:
            self._failures.pop(key, None)
