"""The one road to the exam server and its file store: :class:`Transport`.

Every HTTP request of the client (API calls, tus uploads, face login, update checks and
downloads, attachments, the bandwidth test, the phone-binding calls) goes through one
configured :class:`TransportSession`:

- TLS verified against the system's CAs (the OS store Python finds, plus certifi) **and**
  the organisation's ``ca_bundle`` (added, never replacing);
- the ``proxy`` setting, else the environment's or the system's proxy;
- ``User-Agent: Zhishiyun/<version>``; the bearer token when a call asks for it;
- redirects to another host (or from https to http) refused;
- a **total deadline** per request: connect, headers and every read of the body. A
  watchdog shuts the socket down when the deadline passes, so a server that drips one byte
  every two seconds cannot hold a request past it (a per-read timeout alone would wait
  forever);
- reply size caps: JSON replies, attachments and release files each have their own.

Failures become :class:`~zhishiyun.api.errors.ApiError` with a client code: ``tls`` (the
certificate is not trusted), ``timeout``, ``network``, ``reply_too_large``, ``bad_reply``.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import requests.adapters
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

import zhishiyun
from zhishiyun.api.errors import ApiError

log = logging.getLogger(__name__)

KIB, MIB = 1024, 1024 * 1024
#: Largest JSON reply read (exam lists with rules, papers lists, release manifests).
JSON_MAX_BYTES = 8 * MIB
#: Largest attachment or paper file saved.
ATTACHMENT_MAX_BYTES = 200 * MIB
#: Largest release file (installer) downloaded; the signed size must also match.
RELEASE_MAX_BYTES = 1024 * MIB
#: The slowest link a transfer's deadline still allows for (bytes per second).
MIN_RATE_BPS = 64 * KIB

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


@dataclass(frozen=True)
class Caps:
    """Reply size caps in bytes."""

    json: int = JSON_MAX_BYTES
    attachment: int = ATTACHMENT_MAX_BYTES
    release: int = RELEASE_MAX_BYTES


def is_untrusted_certificate(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps) is a failed certificate verification."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError) or \
                "CERTIFICATE_VERIFY_FAILED" in str(current):
            return True
        todo.extend(e for e in (current.__cause__, current.__context__,
                                getattr(current, "reason", None), *getattr(current, "args", ()))
                    if isinstance(e, BaseException))
    return False


def api_error_for(exc: requests.RequestException) -> ApiError:
    """The :class:`ApiError` for a failed request (no usable reply)."""
    if is_untrusted_certificate(exc):
        return ApiError(0, "tls", str(exc))
    if isinstance(exc, RedirectRefused):
        return ApiError(0, "bad_reply", str(exc))
    if isinstance(exc, requests.Timeout):
        return ApiError(0, "timeout", str(exc))
    return ApiError(0, "network", str(exc))


class Transport:
    """One configured session plus the helpers every server call uses.

    Args:
        ca_bundle: the organisation's extra PEM bundle ('' for the system's CAs only).
        proxy: an HTTP(S) proxy URL ('' for the environment's or the system's).
        connect_timeout: seconds to wait for a connection.
        read_timeout: seconds to wait for each read, and the base of every deadline.
        caps: reply size caps.
    """

    def __init__(self, *, ca_bundle: str = "", proxy: str = "", connect_timeout: float = 5.0,
                 read_timeout: float = 20.0, caps: Caps | None = None) -> None:
        self.ca_bundle = ca_bundle
        self.connect_timeout, self.read_timeout = float(connect_timeout), float(read_timeout)
        self.caps = caps or Caps()
        self.session = TransportSession(
            default_deadline=self.deadline_for(0), read_timeout=self.read_timeout,
            connect_timeout=self.connect_timeout,
            proxies={"http": proxy, "https": proxy} if proxy else None)
        self.session.headers["User-Agent"] = f"Zhishiyun/{zhishiyun.__version__}"
        self.session.headers["Accept"] = "application/json"
        adapter = TransportAdapter(self._context(ca_bundle))
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    @classmethod
    def from_settings(cls, settings: Any) -> Transport:
        """The transport configured by :class:`zhishiyun.config.Settings`."""
        return cls(ca_bundle=settings.ca_bundle, proxy=settings.proxy,
                   connect_timeout=settings.connect_timeout,
                   read_timeout=settings.read_timeout)

    @staticmethod
    def _context(ca_bundle: str) -> ssl.SSLContext:
        if ca_bundle and not Path(ca_bundle).is_file():
            log.warning("CA bundle %s does not exist; using the system CAs only", ca_bundle)
            ca_bundle = ""
        try:
            return trust_context(ca_bundle)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            log.warning("CA bundle %s cannot be used (%s); using the system CAs only",
                        ca_bundle, exc)
            return trust_context("")

    def deadline_for(self, nbytes: int = 0) -> float:
        """Seconds a request moving ``nbytes`` may take in total (connect + all reads)."""
        return self.connect_timeout + self.read_timeout + max(0, nbytes) / MIN_RATE_BPS

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()

    # --- requests -------------------------------------------------------------------

    def send(self, method: str, url: str, *, bearer: str | None = None,
             deadline: float | None = None, max_bytes: int | None = None,
             **kwargs: Any) -> requests.Response:
        """Send a request and read its whole reply (at most ``max_bytes``).

        Returns the response, closed, with ``content`` read; any status.

        Raises:
            ApiError: ``tls``, ``timeout``, ``network``, ``reply_too_large`` or ``bad_reply``.
        """
        limit = self.caps.json if max_bytes is None else max_bytes
        with self.stream(method, url, bearer=bearer, deadline=deadline, **kwargs) as response:
            response._content = self.read_all(response, limit)  # noqa: SLF001
        return response

    @contextlib.contextmanager
    def stream(self, method: str, url: str, *, bearer: str | None = None,
               deadline: float | None = None, **kwargs: Any) -> Iterator[requests.Response]:
        """A streamed response (inside ``with``); the deadline covers reading it too."""
        headers = dict(kwargs.pop("headers", None) or {})
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        try:
            response = self.session.request(method, url, headers=headers, stream=True,
                                            deadline=deadline, **kwargs)
        except requests.RequestException as exc:
            raise api_error_for(exc) from exc
        try:
            yield response
        finally:
            response.deadline_guard.cancel()  # type: ignore[attr-defined]
            response.close()

    @staticmethod
    def chunks(response: requests.Response, limit: int,
               chunk_size: int = 64 * KIB) -> Iterator[bytes]:
        """The body of a streamed ``response`` in chunks; ``reply_too_large`` past ``limit``."""
        guard = getattr(response, "deadline_guard", None)
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise ApiError(response.status_code, "reply_too_large",
                           f"reply of {declared} bytes is over the {limit}-byte cap")
        total = 0
        try:
            for chunk in response.iter_content(chunk_size):
                if guard is not None and guard.expired:
                    raise DeadlineExceeded(f"no complete reply within {guard.seconds:g} s")
                total += len(chunk)
                if total > limit:
                    raise ApiError(response.status_code, "reply_too_large",
                                   f"reply over the {limit}-byte cap")
                yield chunk
        except requests.RequestException as exc:
            if guard is not None and guard.expired:
                raise ApiError(0, "timeout", f"deadline of {guard.seconds:g} s passed") from exc
            raise api_error_for(exc) from exc
        if guard is not None and guard.expired:
            raise ApiError(0, "timeout", f"deadline of {guard.seconds:g} s passed")

    def read_all(self, response: requests.Response, limit: int) -> bytes:
        """The whole body of a streamed ``response`` (at most ``limit`` bytes)."""
        return self.read_all_of(response, limit)

    @classmethod
    def read_all_of(cls, response: requests.Response, limit: int) -> bytes:
        """The whole body of a streamed ``response``; its deadline is disarmed after."""
        try:
            return b"".join(cls.chunks(response, limit))
        finally:
            guard = getattr(response, "deadline_guard", None)
            if guard is not None:
                guard.cancel()

    def save(self, response: requests.Response, target: Path, limit: int,
             progress: Callable[[int], None] | None = None) -> int:
        """Write a streamed body to ``target`` via ``<name>.part``; returns its size."""
        part = target.with_name(target.name + ".part")
        done = 0
        try:
            with part.open("wb") as fh:
                for chunk in self.chunks(response, limit):
                    fh.write(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        part.replace(target)
        return done
