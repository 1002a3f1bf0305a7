"""The HTTP session under :class:`~zhishiyun.api.transport.Transport`: deadlines and trust.

:class:`TransportSession` gives every request a total deadline: a watchdog timer
(:class:`_Guard`) shuts the request's socket down when the deadline passes, so a blocked
read returns at once. The urllib3 pools of :class:`TransportAdapter` attach each connection
to the guard of the request using it. The adapter also verifies TLS against the system's
CAs plus the organisation's bundle, and the session follows redirects on the same host only.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import requests.adapters
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

log = logging.getLogger(__name__)

_local = threading.local()


class DeadlineExceeded(requests.exceptions.Timeout):
    """The whole request (connect + every read) took longer than its deadline."""


class RedirectRefused(requests.exceptions.InvalidURL):
    """The server redirected to another host, or from https to http."""


def _cut(conn: Any) -> None:
    """Shut a connection's socket down so a blocked read returns at once."""
    sock = getattr(conn, "sock", None)
    if sock is None:
        return
    with contextlib.suppress(OSError, ValueError):
        # the plain socket's shutdown (not SSLSocket's, which would try to talk TLS)
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Guard:
    """The deadline of one request: a timer that cuts the connection it is attached to."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._lock = threading.Lock()
        self._conn: Any = None
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.name = "http-deadline"
        self._timer.start()

    def attach(self, conn: Any) -> None:
        """The request now uses ``conn`` (a urllib3 connection)."""
        with self._lock:
            self._conn = conn
            conn.zhishiyun_guard = self
            expired = self.expired
        if expired:
            _cut(conn)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            conn = self._conn
        # a connection handed on to a later request belongs to that request's guard
        if conn is not None and getattr(conn, "zhishiyun_guard", None) is self:
            log.info("request deadline of %.0f s passed; connection cut", self.seconds)
            _cut(conn)

    def cancel(self) -> None:
        """The request is over: no cut."""
        self._timer.cancel()
        with self._lock:
            self._conn = None


class _GuardedPool:
    """Mixin for urllib3 pools: attach each connection to the calling request's guard."""

    def _make_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        guard = getattr(_local, "guard", None)
        if guard is not None:
            guard.attach(conn)
        return super()._make_request(conn, *args, **kwargs)  # type: ignore[misc]


class _GuardedHTTPPool(_GuardedPool, HTTPConnectionPool):
    pass


class _GuardedHTTPSPool(_GuardedPool, HTTPSConnectionPool):
    pass


def _guard_pools(manager: Any) -> Any:
    manager.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}
    return manager


def trust_context(ca_bundle: str = "") -> ssl.SSLContext:
    """TLS verification: the OS store (where Python finds one) + certifi + ``ca_bundle``.

    Raises:
        OSError: ``ca_bundle`` cannot be read or holds no certificate (``ssl.SSLError``).
    """
    import certifi

    context = ssl.create_default_context()  # loads the system's default CA store
    context.load_verify_locations(cafile=certifi.where())
    if ca_bundle:
        context.load_verify_locations(cafile=ca_bundle)
    return context


class TransportAdapter(requests.adapters.HTTPAdapter):
    """HTTP(S) with the transport's TLS trust and deadline-guarded connection pools."""

    def __init__(self, context: ssl.SSLContext, **kwargs: Any) -> None:
        self._context = context
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:  # noqa: D102
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)
        _guard_pools(self.poolmanager)

    def proxy_manager_for(self, *args: Any, **kwargs: Any):  # noqa: D102
        kwargs["ssl_context"] = self._context
        fresh = args[0] not in self.proxy_manager if args else False
        manager = super().proxy_manager_for(*args, **kwargs)
        if fresh:
            _guard_pools(manager)
        return manager


class TransportSession(requests.Session):
    """A ``requests.Session`` with a total deadline per request and same-host redirects.

    ``request(..., deadline=seconds)`` bounds connect + headers + body; without it
    ``default_deadline`` applies. A streamed response carries its deadline as
    ``deadline_guard`` (:meth:`Transport.stream` disarms it when done). tuspy's requests
    go through here too.
    """

    def __init__(self, *, default_deadline: float, read_timeout: float,
                 connect_timeout: float, proxies: dict[str, str] | None) -> None:
        super().__init__()
        self.default_deadline = default_deadline
        self.read_timeout = read_timeout
        self.connect_timeout = connect_timeout
        self.fixed_proxies = proxies

    def request(self, method: str, url: str, *args: Any, deadline: float | None = None,
                **kwargs: Any) -> requests.Response:
        """``requests.Session.request`` within a total ``deadline`` (seconds)."""
        seconds = float(deadline or self.default_deadline)
        timeout = kwargs.get("timeout")
        connect = self.connect_timeout
        if isinstance(timeout, tuple):
            connect = timeout[0] or connect
        elif isinstance(timeout, (int, float)):
            connect = float(timeout)
        # a per-read timeout too, so an idle socket notices before the deadline
        kwargs["timeout"] = (min(connect, seconds), min(self.read_timeout, seconds))
        if self.fixed_proxies:  # the setting wins over *_PROXY in the environment
            kwargs.setdefault("proxies", dict(self.fixed_proxies))
        guard = _Guard(seconds)
        previous = getattr(_local, "guard", None)
        _local.guard = guard
        try:
            response = super().request(method, url, *args, **kwargs)
        except requests.RequestException as exc:
            guard.cancel()
            if guard.expired:
                raise DeadlineExceeded(f"no complete reply within {seconds:g} s") from exc
            raise
        except BaseException:
            guard.cancel()
            raise
        finally:
            _local.guard = previous
        if not kwargs.get("stream"):
            guard.cancel()
            if guard.expired:  # the cut may look like a normal end of the body
                response.close()
                raise DeadlineExceeded(f"no complete reply within {seconds:g} s")
            return response
        # the deadline goes on while the body is read; Transport.stream disarms it
        response.deadline_guard = guard  # type: ignore[attr-defined]
        return response

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        """Follow a redirect only on the same host and never from https to http."""
        target = super().get_redirect_target(resp)
        if target is None:
            return None
        here, there = urlsplit(resp.url), urlsplit(urljoin(resp.url, target))
        if there.netloc.lower() != here.netloc.lower() or (
                here.scheme == "https" and there.scheme != "https"):
            raise RedirectRefused(f"redirect from {here.netloc} to {there.netloc} refused",
                                  response=resp)
        return target
