"""Under load the server keeps its PostgreSQL connections instead of opening one per request.

The server's engine, built as the app builds it (``ServerConfig.from_env()``, as a process
started without pool settings gets it), on a fresh PostgreSQL database: 30 worker threads
each hold a connection at once, as requests do under load, and then do so again.
PostgreSQL's own count of sessions opened on that database (``pg_stat_database.sessions``)
must not grow after the first burst. A pool whose connections are closed at every return
(SQLAlchemy's overflow beyond ``pool_size``) forks, authenticates and tears down a
PostgreSQL backend for most checkouts: at 80 simulated candidates that cost 0.2–0.5 of a
core (docs/scaling.md).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from tests.server.support import fresh_pg_database
from zhishiyun_server.db import make_engine
from zhishiyun_server.settings import ServerConfig

pytestmark = pytest.mark.integration
THREADS = 30  # fewer than the worker thread pool's 40: every one may be in a request


def _sessions_opened(db_url: str) -> int:
    import psycopg

    time.sleep(1.5)  # PostgreSQL publishes a backend's statistics within a second
    with psycopg.connect(db_url, autocommit=True) as conn:
        return conn.execute("SELECT sessions FROM pg_stat_database "
                            "WHERE datname = current_database()").fetchone()[0]


def _burst(engine) -> None:
    """Every thread holds a connection at the same moment, then gives it back."""
    together = threading.Barrier(THREADS)

    def request(_n: int) -> int:
        with engine.connect() as conn:
            together.wait(timeout=30)
            return conn.execute(text("SELECT 1")).scalar_one()

    with ThreadPoolExecutor(THREADS) as pool:
        assert list(pool.map(request, range(THREADS))) == [1] * THREADS


def test_bursts_of_requests_open_no_new_database_connections(monkeypatch):
    for name in ("ZHISHIYUN_SERVER_DB_POOL_SIZE", "ZHISHIYUN_SERVER_DB_POOL_OVERFLOW"):
        monkeypatch.delenv(name, raising=False)
    config = ServerConfig.from_env()
    with fresh_pg_database() as db_url:
        engine = make_engine(db_url, config.db_pool_size, config.db_pool_overflow,
                             config.db_pool_timeout_s)
        try:
            _burst(engine)
            after_first = _sessions_opened(db_url)
            for _ in range(3):
                _burst(engine)
            # the count's own connection is the one new session
            assert _sessions_opened(db_url) - after_first == 1
        finally:
            engine.dispose()
