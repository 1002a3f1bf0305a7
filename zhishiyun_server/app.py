"""The FastAPI application: ``create_app(config)``.

How other parts plug in (keep each to one line here):

* Routers: add ``app.include_router(your_router, prefix=API)`` in :func:`_include_routers`
  (``API`` is ``/api/v1``; the tus endpoint mounts at ``/files`` without the prefix).
* Tables: declare them on :class:`zhishiyun_server.db.Base` in your module, import that
  module in :func:`_include_routers` (so the metadata knows it), and add an Alembic revision
  in ``zhishiyun_server/migrations/versions/`` whose ``down_revision`` is the newest
  revision you build on (``0001_initial`` at least). Start-up runs ``alembic upgrade
  heads``, so parallel branches from the same base both apply.
* State: ``app.state.config`` (:class:`ServerConfig`), ``app.state.engine``,
  ``app.state.session_factory``, ``app.state.login_limits`` (failed-login limits, kept in
  the database: :mod:`zhishiyun_server.login_limits`), ``app.state.trusted_proxies``
  (:func:`zhishiyun_server.clientaddr.client_address` tells who is calling).
* Dependencies: :mod:`zhishiyun_server.deps` (``get_db``, ``current_candidate``,
  ``owned_session``); errors: raise :class:`zhishiyun_server.errors.ApiProblem`.

After changing routes, regenerate the OpenAPI snapshot: ``zhishiyun-server openapi --write``
(a test compares it with the app).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

import zhishiyun_server
from zhishiyun_server import capacity, clock
from zhishiyun_server.clientaddr import describe as describe_client_addresses
from zhishiyun_server.clientaddr import parse_trusted
from zhishiyun_server.db import make_engine, make_session_factory
from zhishiyun_server.edge import EdgeFilter, crash_reply
from zhishiyun_server.errors import ApiProblem
from zhishiyun_server.face.policy import FacePolicy
from zhishiyun_server.login_limits import Limits
from zhishiyun_server.security import ServerBusy
from zhishiyun_server.settings import ServerConfig

API = "/api/v1"
log = logging.getLogger(__name__)


def _include_routers(app: FastAPI) -> None:
    from zhishiyun_server import recordings  # upload: manifest + recordings
    from zhishiyun_server.auth import routes as auth
    from zhishiyun_server.routes import exams, messages, meta, sessions
    from zhishiyun_server.tus.endpoint import router as tus_router  # upload: tus /files/

    # Routes are matched in order, one regular expression each: what every candidate sends
    # with each segment (tus, manifest line, events, answers) goes first.
    app.include_router(tus_router)
    for module in (recordings, meta, sessions, auth, exams, messages):
        app.include_router(module.router, prefix=API)
    from zhishiyun_server.face import routes as face  # face login (zhishiyun_server/face)
    app.include_router(face.router, prefix=API)
    from zhishiyun_server.bindings.routes import install as install_bindings  # second camera
    install_bindings(app, API)
    from zhishiyun_server.bindings.before_entry import router as bind_before  # from the card
    app.include_router(bind_before, prefix=API)
    from zhishiyun_server.integrity.identity import router as identity  # random identity checks
    app.include_router(identity, prefix=API)
    from zhishiyun_server import review  # review console /review/ + 求助 API (help/)
    review.install(app)
    from zhishiyun_server.agreements import router as agreements  # 用户协议 / 隐私政策
    app.include_router(agreements, prefix=API)
    from zhishiyun_server.instruction import router as instruction  # spoken instruction
    app.include_router(instruction, prefix=API)
    # Other parts register here, one line each:
    # tus endpoint + recordings (upload), face login (face), bindings.


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiProblem)
    async def _problem(_request: Request, exc: ApiProblem) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = f"Invalid request: {where}: {first.get('msg', 'invalid')}".strip()
        return JSONResponse({"error": {"code": "invalid_request", "message": message}},
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}
        return JSONResponse(
            {"error": {"code": codes.get(exc.status_code, "http_error"),
                       "message": str(exc.detail)}},
            status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(ServerBusy)
    async def _busy(_request: Request, _exc: ServerBusy) -> JSONResponse:
        return JSONResponse({"error": {"code": "busy", "message": "The server is busy with "
                                       "other logins. Try again in a few seconds."}},
                            status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        return crash_reply(request, exc)


def make_private(data_dir: Path, db_url: str) -> None:
    """The data dir and its uploads 0700, a SQLite database file in it 0600 (owner only)."""
    for folder in (data_dir, data_dir / "uploads"):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if os.name == "posix":
            folder.chmod(0o700)
    if db_url.startswith("sqlite:///") and db_url != "sqlite:///:memory:":
        path = Path(db_url.removeprefix("sqlite:///"))
        for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            if file == path and not file.exists():
                os.close(os.open(file, os.O_CREAT | os.O_WRONLY, 0o600))
            if file.exists() and os.name == "posix":
                file.chmod(0o600)


def telemetry_settings(enabled: bool) -> dict:
    """FastAPI's OpenTelemetry hooks, all on or all off (``ServerConfig.telemetry``).

    Left on with nothing configured, FastAPI asks the global OpenTelemetry providers
    whether anyone listens on every request (about 3 % of a segment's CPU, for nothing).
    An operator who exports traces sets ``OTEL_*`` variables (``opentelemetry-instrument``
    reads them too), and then every hook is on.
    """
    return {"tracing": enabled, "metrics": enabled, "logs": enabled,
            "operation_spans": enabled}


def create_app(config: ServerConfig | None = None) -> FastAPI:
    """Build the application for ``config`` (migrates the database when ``config.migrate``)."""
    config = config or ServerConfig.from_env()
    face_policy = FacePolicy.from_config(config)  # a bad override stops start-up here
    clock.configure(config.clock_offset_s)
    face_policy.install()
    make_private(config.data_dir, config.db_url)
    app = FastAPI(title="Zhishiyun exam server", version=zhishiyun_server.__version__,
                  description="Reference exam server for the Zhishiyun client (API v1).",
                  telemetry=telemetry_settings(config.telemetry))
    engine = make_engine(config.db_url, config.db_pool_size, config.db_pool_overflow,
                         config.db_pool_timeout_s)
    if config.migrate:
        from zhishiyun_server.migrate import upgrade

        upgrade(engine)
    app.state.config = config
    app.state.face_policy = face_policy
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    app.state.login_limits = Limits(config.login_max_failures, config.login_window_s)
    app.state.trusted_proxies = parse_trusted(config.forwarded_allow_ips)
    log.info(describe_client_addresses(app.state.trusted_proxies))
    _install_error_handlers(app)
    capacity.install(app)  # past capacity: 503 + Retry-After, never 500 or a hang
    app.add_middleware(EdgeFilter)
    _include_routers(app)
    return app
