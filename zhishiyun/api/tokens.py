"""Login tokens kept in the OS keyring, or in memory where no secure keyring exists.

Secure means a real OS store (Windows Credential Manager, macOS Keychain, Secret Service /
KWallet). The ``fail``/``null`` backends and every ``keyrings.alt`` backend (plaintext or
file-based) count as none: the token then lives in this process's memory only, and one
warning says so. A token is never written to a file or a log.
"""

from __future__ import annotations

import logging
import threading

import keyring
from keyring.backend import KeyringBackend
from keyring.errors import KeyringError

log = logging.getLogger(__name__)
SERVICE = "cn.zhishiyun.client"

_memory: dict[str, str] = {}
_memory_lock = threading.Lock()
_warned = False


def _insecure(backend: KeyringBackend) -> bool:
    from keyring.backends import chainer, fail, null

    if isinstance(backend, chainer.ChainerBackend):
        backends = list(backend.backends)
        return not backends or any(_insecure(b) for b in backends)
    if isinstance(backend, (fail.Keyring, null.Keyring)):
        return True
    return type(backend).__module__.split(".")[0] == "keyrings"


def secure_backend(backend: KeyringBackend | None = None) -> KeyringBackend | None:
    """The keyring backend to use, or None when only insecure ones are available."""
    try:
        chosen = backend or keyring.get_keyring()
    except Exception:  # noqa: BLE001 - a broken keyring config must not stop the client
        log.debug("keyring backend could not be loaded", exc_info=True)
        return None
    return None if _insecure(chosen) else chosen


def _warn_once(reason: str) -> None:
    global _warned
    if not _warned:
        _warned = True
        log.warning("no secure keyring (%s): the login is kept in memory only and is "
                    "forgotten when Zhishiyun closes", reason)


class TokenStore:
    """The token for one server URL: keyring when secure, memory otherwise.

    Args:
        server_url: the server the token belongs to (one token per server).
        backend: a keyring backend to use instead of the configured one.
    """

    def __init__(self, server_url: str, backend: KeyringBackend | None = None) -> None:
        self.key = server_url.rstrip("/") or "default"
        self._backend = secure_backend(backend)
        if self._backend is None:
            _warn_once("no OS credential store found")

    @property
    def secure(self) -> bool:
        """True when tokens go to the OS keyring."""
        return self._backend is not None

    def _fallback(self, exc: Exception) -> None:
        log.debug("keyring failed: %s", type(exc).__name__)
        self._backend = None
        _warn_once(f"keyring failed: {type(exc).__name__}")

    def get(self) -> str | None:
        """The stored token, or None."""
        if self._backend is not None:
            try:
                return self._backend.get_password(SERVICE, self.key)
            except (KeyringError, OSError, RuntimeError) as exc:
                self._fallback(exc)
        with _memory_lock:
            return _memory.get(self.key)

    def set(self, token: str) -> None:
        """Store ``token`` (replacing any earlier one)."""
        if self._backend is not None:
            try:
                self._backend.set_password(SERVICE, self.key, token)
                return
            except (KeyringError, OSError, RuntimeError) as exc:
                self._fallback(exc)
        with _memory_lock:
            _memory[self.key] = token

    def clear(self) -> None:
        """Forget the token (logout, or the server said it is no longer valid)."""
        with _memory_lock:
            _memory.pop(self.key, None)
        if self._backend is not None:
            try:
                self._backend.delete_password(SERVICE, self.key)
            except keyring.errors.PasswordDeleteError:
                pass
            except (KeyringError, OSError, RuntimeError) as exc:
                self._fallback(exc)


class MemoryTokenStore(TokenStore):
    """A store that never touches the keyring (tests, one-off CLI runs)."""

    def __init__(self, server_url: str = "") -> None:  # noqa: D107
        self.key = server_url.rstrip("/") or "default"
        self._backend = None
        self._token: str | None = None

    def get(self) -> str | None:  # noqa: D102
        return self._token

    def set(self, token: str) -> None:  # noqa: D102
        self._token = token

    def clear(self) -> None:  # noqa: D102
        self._token = None
