"""HTTP probes for the server-facing checks, and telling network failures apart.

The checks talk to the server at the HTTP level (not through the API client's error
mapping) because what they must tell the candidate is *why* a request failed: the name
does not resolve, the connection is refused, the certificate is not trusted, nothing
answered in time, or the address is a web server that is not a Zhishiyun server. They
still ride the client's one transport (:class:`~zhishiyun.api.transport.Transport`): the
same CAs, proxy, total deadline per request and reply size cap as every other call.
"""

from __future__ import annotations

import errno
import json
import socket
import ssl
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from zhishiyun.api.client import api_endpoint
from zhishiyun.api.errors import ApiError
from zhishiyun.api.transport import JSON_MAX_BYTES, Transport, TransportSession

# Kinds of failure, as the server check reports them (``details.error``).
CANNOT_RESOLVE = "cannot_resolve"
REFUSED = "connection_refused"
UNTRUSTED_CERT = "certificate_not_trusted"
TIMED_OUT = "timed_out"
NOT_ZHISHIYUN = "not_zhishiyun_server"
SERVER_ERROR = "server_error"
NETWORK = "network_error"


class ProbeError(Exception):
    """A request to the server failed; ``kind`` says how (one of the constants above)."""

    def __init__(self, kind: str, detail: str, status: int | None = None) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.status = status


def session_for(settings: Any) -> requests.Session:
    """The session of the client's transport for ``settings`` (CAs, proxy, deadlines)."""
    return Transport.from_settings(settings).session


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything it wraps (causes, contexts, urllib3 reasons, exception args)."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None),
                  *getattr(current, "args", ())]
        todo.extend(e for e in linked if isinstance(e, BaseException))


def classify(exc: BaseException) -> str:
    """The kind of a network failure raised by requests/urllib3/socket/ssl."""
    chain = list(_chain(exc))
    text = " ".join(str(e) for e in chain)
    if any(isinstance(e, (ssl.SSLCertVerificationError, requests.exceptions.SSLError))
           for e in chain) or "CERTIFICATE_VERIFY_FAILED" in text:
        return UNTRUSTED_CERT
    if any(isinstance(e, (requests.Timeout, socket.timeout, TimeoutError)) for e in chain):
        return TIMED_OUT
    if any(isinstance(e, socket.gaierror) for e in chain) or "NameResolutionError" in text \
            or "Failed to resolve" in text:
        return CANNOT_RESOLVE
    if any(isinstance(e, ConnectionRefusedError) or getattr(e, "errno", None) ==
           errno.ECONNREFUSED for e in chain) or "Connection refused" in text:
        return REFUSED
    return NETWORK


@dataclass
class Reply:
    """A JSON reply and how long it took."""

    data: Any
    seconds: float
    status: int


_API_KINDS = {"tls": UNTRUSTED_CERT, "timeout": TIMED_OUT, "reply_too_large": NOT_ZHISHIYUN}


def request_json(session: requests.Session, method: str, url: str, *,
                 timeout: float | tuple[float, float],
                 expect_keys: tuple[str, ...] = (), **kwargs: Any) -> Reply:
    """Send a request and return its JSON body, or raise :class:`ProbeError`.

    ``timeout`` is (connect, read) seconds, or one number for both; on the transport's
    session their sum is also the request's total deadline (a server that drips its reply
    cannot hold a check longer). ``expect_keys`` are fields a Zhishiyun server always
    sends: their absence (or a reply that is not JSON, or a 404) means the address is
    some other web server.
    """
    connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    if isinstance(session, TransportSession):
        kwargs["deadline"] = connect + read
    started = time.perf_counter()
    try:
        response = session.request(method, url, timeout=(connect, read), stream=True,
                                   **kwargs)
    except requests.RequestException as exc:
        raise ProbeError(classify(exc), str(exc)) from exc
    try:
        content = Transport.read_all_of(response, JSON_MAX_BYTES)
    except ApiError as exc:
        raise ProbeError(_API_KINDS.get(exc.code, NETWORK), exc.server_message or exc.code,
                         exc.status or None) from exc
    finally:
        response.close()
    seconds = time.perf_counter() - started
    try:
        data = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: nested too deep
        data = None
    is_api_error = isinstance(data, Mapping) and isinstance(data.get("error"), Mapping)
    if response.status_code == 404 and not is_api_error:
        raise ProbeError(NOT_ZHISHIYUN, f"HTTP 404 for {url}", 404)
    if response.status_code >= 400:
        kind = SERVER_ERROR if (response.status_code >= 500 or is_api_error) else NOT_ZHISHIYUN
        message = data["error"].get("message", "") if is_api_error else response.reason
        raise ProbeError(kind, f"HTTP {response.status_code}: {message}", response.status_code)
    if not isinstance(data, Mapping) or any(k not in data for k in expect_keys):
        content_type = response.headers.get("content-type", "?")
        raise ProbeError(NOT_ZHISHIYUN, f"unexpected reply ({content_type}) from {url}",
                         response.status_code)
    return Reply(data, seconds, response.status_code)


def api_url(server_url: str, path: str) -> str:
    """Full URL of an API path such as ``/health``."""
    return api_endpoint(server_url, path)
