"""Past capacity the server says "busy, retry in N s" (503 + ``Retry-After``), never 500 or hang.

Three guards, installed by :func:`install`:

- a cap on requests in progress per process (``ZHISHIYUN_SERVER_MAX_INFLIGHT``, default
  400): one more is answered 503 at once instead of queueing behind the others until every
  client times out (uploads keep their offset; the client backs off and resumes);
- the event loop's lag: when the process is so busy that a timer due now runs more than
  ``ZHISHIYUN_SERVER_MAX_LAG_MS`` (default 500) late on average, new work (creating an
  upload, API calls) is answered 503 until it catches up, so the requests it does take stay
  fast instead of every request stalling; PATCH and HEAD of uploads already under way go
  on (their bytes are half-sent work), and so does ``/health``; the same when more than
  ``ZHISHIYUN_SERVER_MAX_QUEUE`` (default 16) requests wait for a worker thread;
- database overload (no free pooled connection within the pool timeout, SQLite busy,
  PostgreSQL out of connections) is answered 503 as well, see
  :func:`zhishiyun_server.db.is_overload`.
"""

from __future__ import annotations

import asyncio
import json
import logging

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


class LoopLag:
    """A smoothed measure of how late this process's event loop runs its timers."""

    TICK_S = 0.05

    def __init__(self, limit_s: float) -> None:
        self.limit_s, self.lag_s = limit_s, 0.0
        self._task: asyncio.Task | None = None

    def watch(self) -> None:
        """Start measuring on the running loop (once)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._measure())

    async def _measure(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.TICK_S
            await asyncio.sleep(self.TICK_S)
            late = max(0.0, loop.time() - due)
            self.lag_s = 0.8 * self.lag_s + 0.2 * late  # a few ticks of memory

    @property
    def overloaded(self) -> bool:
        """True while the loop is more than ``limit_s`` late on average."""
        return self.lag_s > self.limit_s


class ThreadQueue:
    """How many requests wait for a worker thread (sync handlers, database work) right now.

    Read on every request, so it costs one comparison while a thread is free: the worker
    pool hands a freed thread straight to the next waiter, so nobody waits while any is
    free. anyio's pool limiter is looked up once per event loop, not per request (the
    lookup goes through the async-library detection, several microseconds).
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._limiter = None

    def waiting(self) -> int:
        """Requests queued for a worker thread of the running loop's pool."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            import anyio.to_thread

            self._limiter = anyio.to_thread.current_default_thread_limiter()
            self._loop = loop
        limiter = self._limiter
        if limiter.borrowed_tokens < limiter.total_tokens:
            return 0
        return limiter.statistics().tasks_waiting


def _sheddable(scope) -> bool:
    """New work; not a PATCH/HEAD of an upload already under way."""
    return not (scope.get("path", "").startswith("/files/") and scope.get("method") in (
        "PATCH", "HEAD", "OPTIONS"))


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

    def __init__(self, app, limit: int = 400, lag_ms: int = 500, max_queue: int = 16) -> None:
        self.app, self.limit, self.inflight = app, limit, 0
        self.lag = LoopLag(lag_ms / 1000)
        self.max_queue = max_queue
        self.shed = 0
        self.threads = ThreadQueue()
        self._body = json.dumps(busy_body()).encode("utf-8")

    async def __call__(self, scope, receive, send) -> None:  # noqa: D102
        if scope["type"] != "http" or scope.get("path") in _ALWAYS:
            await self.app(scope, receive, send)
            return
        self.lag.watch()
        busy = self.lag.overloaded or self.threads.waiting() > self.max_queue
        if self.inflight >= self.limit or (busy and _sheddable(scope)):
            self.shed += 1
            if self.shed % 100 == 1:
                log.warning("busy: %d in flight, %d waiting for a thread, event loop %.0f ms "
                            "late; answering 503", self.inflight, self.threads.waiting(),
                            self.lag.lag_s * 1000)
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
    config = app.state.config
    app.add_middleware(InflightLimit, limit=config.max_inflight, lag_ms=config.max_lag_ms,
                       max_queue=config.max_queue)
