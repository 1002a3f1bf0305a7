"""Session keys (the manifest's HMAC secret) kept where login tokens are kept.

The key arrives with ``POST /exams/{id}/sessions``. Kept in the OS keyring (memory where
there is none, as for tokens: never a file), it lets the next start close and sign the
segment a crash left open before anyone logs in, and lets ``zhishiyun upload`` do the same.
"""

from __future__ import annotations

from zhishiyun.api.tokens import TokenStore

KEY_PREFIX = "zhishiyun-session-key:"


def _store(session_id: str) -> TokenStore:
    return TokenStore(KEY_PREFIX + session_id)


def remember(session_id: str, key: str) -> None:
    """Keep ``key`` for ``session_id``."""
    if session_id and key:
        _store(session_id).set(key)


def lookup(session_id: str) -> str | None:
    """The key of ``session_id``, or None when this computer does not hold it."""
    return _store(session_id).get()


def forget(session_id: str) -> None:
    """Drop the key (the session's recordings are all on the server)."""
    _store(session_id).clear()
