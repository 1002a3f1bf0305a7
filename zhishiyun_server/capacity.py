"""Past capacity the server says "busy, retry in N s" (503 + ``Retry-After``), never 500 or hang.

Two guards, installed by :func:`install`:

- a cap on requests in progress per process (``ZHISHIYUN_SERVER_MAX_INFLIGHT``, default
  400): one more is answered 503 at once instead of queueing behind the others until every
  client times out (uploads keep their offset; the client backs off and resumes);
- database overload (no free pooled connection within the pool timeout, SQLite busy,
  PostgreSQL out of connections) is answered 503 as well, see
  :func:`zhishiyun_server.db.is_overload`.
"""

from __future__ import annotations

import json
import logging
import os

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from zhishiyun_server.db import is_overload
from zhishiyun_server.edge import crash_reply

log = logging.getLogger(__name__)

#: Seconds a client is asked to wait before it tries again.
RETRY_AFTER_S = 2
#: Paths never shed: reachability must stay visible while the server is busy.
_ALWAYS = ("/api/v1/health",)


def _max_inflight() -> int:
    raw = os.environ.get("ZHISHIYUN_SERVER_MAX_INFLIGHT", "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else 400


def busy_body() -> dict:
    """The error body of a 503 (the API's error shape)."""
    return {"error": {"code": "server_busy",
                      "message": "The server is busy. Try again in a few seconds."}}


def busy_response() -> JSONResponse:
    """503 with ``Retry-After`` (and ``Tus-Resumable`` so tus clients read it as tus)."""
    return JSONResponse(busy_body(), status_code=503,
                        headers={"Retry-After": str(RETRY_AFTER_S), "Tus-Resumable": "1.0.0"})


class InflightLimit:
    """ASGI middleware: at most ``limit`` HTTP requests in progress, 503 beyond."""

    def __init__(self, app, limit: int | None = None) -> None:
        self.app, self.limit, self.inflight = app, limit or _max_inflight(), 0
        self._body = json.dumps(busy_body()).encode("utf-8")

    async def __call__(self, scope, receive, send) -> None:  # noqa: D102
        if scope["type"] != "http" or scope.get("path") in _ALWAYS:
            await self.app(scope, receive, send)
            return
        if self.inflight >= self.limit:
            await send({"type": "http.response.start", "status": 503, "headers": [
                (b"content-type", b"application/json"),
                (b"retry-after", str(RETRY_AFTER_S).encode()),
                (b"tus-resumable", b"1.0.0"),
                (b"content-length", str(len(self._body)).encode())]})
            await send({"type": "http.response.body", "body": self._body})
            return
        self.inflight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.inflight -= 1


def install(app: FastAPI) -> None:
    """Add the in-flight cap and the database-overload answer to ``app``."""

    async def _overloaded(_request: Request, exc: Exception) -> JSONResponse:
        if not is_overload(exc):
            return crash_reply(_request, exc)
        log.warning("database busy: %s", str(exc).splitlines()[0] if str(exc) else exc)
        return busy_response()

    app.add_exception_handler(PoolTimeout, _overloaded)
    app.add_exception_handler(DBAPIError, _overloaded)
    app.add_middleware(InflightLimit)
