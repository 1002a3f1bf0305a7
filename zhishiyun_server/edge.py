"""The edge filter: rules every request meets before any route sees it, and the crash reply.

- Path and query string: no NUL, no other control character (PostgreSQL cannot store NUL;
  none of our ids or parameters contain control characters).
- ``/api/v1`` bodies: at most :data:`MAX_API_BODY` bytes (counted as they arrive, so a
  chunked body without ``Content-Length`` is held to it too).
- JSON bodies under ``/api/v1``: valid UTF-8 JSON, nested at most :data:`MAX_DEPTH` deep,
  every integer within 64 bits, no NaN or infinity, no string with NUL or a lone surrogate.

Anything else is a 4xx ``{"error": {"code": ...}}``. An exception no route handled becomes
a 500 ``internal_error`` that names a request id (also in the log, with the traceback) and
nothing of the server's internals.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from typing import Any
from urllib.parse import unquote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zhishiyun_server.validation import INT64_MAX, INT64_MIN, text_problem

log = logging.getLogger(__name__)
API = "/api/v1"
#: Largest request body under /api/v1 (the tus endpoint has its own limits).
MAX_API_BODY = 20 * 1024 * 1024
#: Deepest nesting of arrays and objects in a JSON body.
MAX_DEPTH = 32
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_LONG_DIGITS = re.compile(rb"[0-9]{19}")


class BodyTooLarge(Exception):
    """The request body grew past its limit while it was read."""


def _reply(status: int, code: str, message: str, extra_headers: dict | None = None):
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in (extra_headers or {}).items()]
    return ({"type": "http.response.start", "status": status, "headers": headers},
            {"type": "http.response.body", "body": body})


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _parse_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError("number out of range")
    return value


def _walk_needed(raw: bytes) -> bool:
    r"""Whether a parsed body could still break a rule that the parse itself does not check.

    Three byte scans (C speed) rule out what the walk over every value looks for:

    - a NUL or a lone surrogate in a text exists only as a ``\u`` escape (the parser
      refuses raw control characters, and UTF-8 decoding refuses encoded surrogates);
    - an integer beyond 64 bits has at least 19 digits;
    - nesting deeper than :data:`MAX_DEPTH` needs more than that many ``[`` or ``{``.

    Escapes, digits or brackets inside texts only make the walk run when it need not.
    """
    return (b"\\u" in raw or _LONG_DIGITS.search(raw) is not None
            or raw.count(b"[") + raw.count(b"{") > MAX_DEPTH)


def json_problem(raw: bytes) -> str | None:
    """Why ``raw`` is not an acceptable JSON body, or None when it is."""
    try:
        text = raw.decode("utf-8")
        document = json.loads(text, parse_constant=_reject_constant, parse_float=_parse_float)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return f"the body is not valid JSON ({type(exc).__name__})"
    if not _walk_needed(raw):
        return None
    stack: list[tuple[Any, int]] = [(document, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"the body is nested deeper than {MAX_DEPTH} levels"
        if isinstance(value, bool) or value is None or isinstance(value, float):
            continue
        if isinstance(value, int):
            if not INT64_MIN <= value <= INT64_MAX:
                return "a number in the body does not fit 64 bits"
        elif isinstance(value, str):
            problem = text_problem(value)
            if problem:
                return f"a text in the body {problem}"
        elif isinstance(value, dict):
            for key, item in value.items():
                problem = text_problem(key)
                if problem:
                    return f"a key in the body {problem}"
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
    return None


def url_problem(scope: Scope) -> str | None:
    """Why the request's path or query string is not acceptable, or None."""
    if _CONTROL.search(scope.get("path", "")):
        return "the path contains a control character"
    query = scope.get("query_string", b"").decode("latin-1")
    if "%" in query:
        query = unquote(query, errors="replace")
    if _CONTROL.search(query):
        return "the query string contains a control character"
    return None


def _body_headers(scope: Scope) -> tuple[int, bool, bool]:
    """What the headers say of the body: declared length, chunked, JSON.

    The length is 0 when ``Content-Length`` is absent or not a number; chunked means a
    ``Transfer-Encoding`` (the only way a body without a declared length arrives).
    """
    length, chunked, is_json = 0, False, False
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            length = int(text) if text.isascii() and text.isdigit() and len(text) < 19 else 0
        elif name == b"transfer-encoding":
            chunked = True
        elif name == b"content-type":
            kind = value.split(b";")[0].strip().lower()
            is_json = kind == b"application/json" or kind.endswith(b"+json")
    return length, chunked, is_json


class EdgeFilter:
    """ASGI middleware applying the module's rules (outside every route)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: D102
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = url_problem(scope)
        if problem:
            await _send_all(send, _reply(400, "invalid_request", f"Invalid request: {problem}."))
            return
        if not scope["path"].startswith(API):
            await self.app(scope, receive, send)
            return
        length, chunked, is_json = _body_headers(scope)
        if length > MAX_API_BODY:
            await _send_all(send, _too_large())
            return
        if is_json and scope.get("method") in ("POST", "PUT", "PATCH"):
            try:
                raw = await _read_body(receive, MAX_API_BODY)
            except BodyTooLarge:
                await _send_all(send, _too_large())
                return
            problem = json_problem(raw) if raw else None
            if problem:
                await _send_all(send, _reply(422, "invalid_request",
                                             f"Invalid request: {problem}."))
                return
            await self.app(scope, _replay(raw, receive), send)
            return
        if chunked:  # otherwise HTTP/1.1 delivers no more than the declared length (or none)
            receive = _counting(receive, MAX_API_BODY)
        await self.app(scope, receive, send)


def _too_large():
    return _reply(413, "too_large", "The request body is too large.")


async def _send_all(send: Send, messages) -> None:
    for message in messages:
        await send(message)


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks, total = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        total += len(chunk)
        if total > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(raw: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:  # the body is gone; what comes next is the disconnect
            return await receive()
        sent = True
        return {"type": "http.request", "body": raw, "more_body": False}

    return replayed


def _counting(receive: Receive, limit: int) -> Receive:
    total = 0

    async def counted() -> Message:
        nonlocal total
        message = await receive()
        total += len(message.get("body", b""))
        if total > limit:
            from zhishiyun_server.errors import ApiProblem

            raise ApiProblem(413, "too_large", "The request body is too large.")
        return message

    return counted


def request_id() -> str:
    """A short random id that ties a 500 reply to its log entry."""
    return secrets.token_hex(8)


def crash_reply(request, exc: BaseException):
    """The 500 for an error no route handled: logged with a request id, no internals."""
    from fastapi.responses import JSONResponse

    rid = request_id()
    log.error("unhandled error, request %s: %s %s", rid, request.method, request.url.path,
              exc_info=exc)
    return JSONResponse({"error": {"code": "internal_error", "request_id": rid,
                                   "message": "The server had a problem. Try again; "
                                              f"support can look up request {rid}."}},
                        status_code=500, headers={"X-Request-Id": rid})
