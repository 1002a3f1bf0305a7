"""The real exam server app (demo data) on uvicorn in this process, for tests that patch it."""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn

from tests.conftest import free_port
from zhishiyun_server.app import create_app
from zhishiyun_server.demo import seed_if_empty
from zhishiyun_server.settings import ServerConfig


@dataclass
class ServedApp:
    """The app object (patch it, read its database) and the URL it answers on."""

    app: Any
    url: str


@contextlib.contextmanager
def serve(config: ServerConfig, wrap=None):
    """Serve ``config``'s app with demo data on a free port; yields a :class:`ServedApp`.

    ``wrap(app)``, if given, returns the ASGI app that is served in front of it (a request
    logger, say); ``ServedApp.app`` is still the exam server's own.
    """
    app = create_app(config)
    seed_if_empty(app.state.session_factory, config)
    port = free_port()
    served = wrap(app) if wrap is not None else app
    server = uvicorn.Server(uvicorn.Config(served, host="127.0.0.1", port=port,
                                           log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield ServedApp(app, f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(10)
        app.state.engine.dispose()


@pytest.fixture
def served_app(tmp_path):
    """The exam server app with demo data, on a free port, for this test only."""
    with serve(ServerConfig(data_dir=tmp_path / "data", demo=True)) as served:
        yield served


@pytest.fixture(params=["sqlite", "postgres"])
def served_app_on_both_databases(request, tmp_path):
    """The exam server app with demo data on SQLite, then on a fresh PostgreSQL database."""
    from tests.server.support import fresh_pg_database

    if request.param == "sqlite":
        with serve(ServerConfig(data_dir=tmp_path / "data", demo=True)) as served:
            yield served
        return
    with fresh_pg_database() as url, serve(
            ServerConfig(data_dir=tmp_path / "data", db_url=url, demo=True)) as served:
        yield served


@pytest.fixture
def app_url(served_app) -> str:
    """Only the URL of :func:`served_app`."""
    return served_app.url
