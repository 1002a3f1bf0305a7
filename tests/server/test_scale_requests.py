"""The cheap request path stays cheap, and what it gave up for speed costs no request.

- No FastAPI dependency override in the app: with any override FastAPI rebuilds the
  dependency tree of every request it serves (``inspect.signature`` of every dependency),
  about a tenth of the server's CPU under the load benchmark.
- Without pre-ping, a PostgreSQL connection that died (a database restart, a failover)
  costs one request a 503 + ``Retry-After``, never a 500, and the next request works.
- The manifest, events and answer requests authenticate from the per-process token cache;
  a logout still ends the token at once in the process that served it.
- Racing copies of the same manifest lines and events (a client's resend while the first
  copy is still in flight) store each once and answer 200: no unique-violation 500, no
  deadlock 503 from two copies taking their locks in opposite orders.
"""

from __future__ import annotations

import time

import psycopg
import pytest
import requests

from tests.server.support import running_server
from tests.upload.conftest import enter_written_exam

pytestmark = pytest.mark.integration


def test_the_app_has_no_dependency_overrides(tmp_path):
    from zhishiyun_server.app import create_app
    from zhishiyun_server.settings import ServerConfig

    app = create_app(ServerConfig(data_dir=tmp_path, db_url=f"sqlite:///{tmp_path}/s.db"))
    assert app.dependency_overrides == {}


def _terminate_server_connections(db_url: str) -> int:
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        rows = conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = %s AND pid <> pg_backend_pid()",
                            (url.database,)).fetchall()
    return len(rows)


def test_dead_database_connections_cost_one_503_then_work(tmp_path_factory):
    with running_server(tmp_path_factory, "postgres") as server:
        entered = enter_written_exam(server.url)
        for _ in range(5):  # several pooled connections
            assert requests.get(f"{server.url}/api/v1/exams", headers=entered.auth,
                                timeout=10).status_code == 200
        assert _terminate_server_connections(server.db_url) >= 1
        time.sleep(0.3)
        statuses = []
        for _ in range(6):
            resp = requests.get(f"{server.url}/api/v1/exams", headers=entered.auth, timeout=10)
            statuses.append(resp.status_code)
            if resp.status_code != 200:
                assert resp.status_code == 503, resp.text
                assert resp.headers.get("Retry-After")
        assert statuses.count(503) <= 1, statuses
        assert statuses[-1] == 200, statuses


def test_a_logout_ends_the_token_for_manifest_events_and_answers_at_once(demo_server):
    entered = enter_written_exam(demo_server.url)
    base = f"{demo_server.url}/api/v1/sessions/{entered.session_id}"
    body = {"events": [{"id": "e-before", "kind": "focus_lost",
                        "at": "2026-12-01T09:00:00.000+08:00", "details": {}}]}
    assert requests.post(f"{base}/events", json=body, headers=entered.auth,
                         timeout=10).status_code == 200  # the token is in the cache now
    assert requests.put(f"{base}/answers/q1", json={"version": 1, "content": "x"},
                        headers=entered.auth, timeout=10).status_code in (200, 403)
    assert requests.post(f"{demo_server.url}/api/v1/auth/logout", headers=entered.auth,
                         timeout=10).status_code == 200
    refused = requests.post(f"{base}/events", json=body, headers=entered.auth, timeout=10)
    assert refused.status_code == 401
    refused = requests.post(f"{base}/manifest", json={"lines": []}, headers=entered.auth,
                            timeout=10)
    assert refused.status_code == 401
    refused = requests.put(f"{base}/answers/q1", json={"version": 1, "content": "x"},
                           headers=entered.auth, timeout=10)
    assert refused.status_code == 401


def test_racing_copies_of_lines_and_events_are_stored_once_without_errors(tmp_path):
    """Eight clients resend the same manifest lines and events at once (PostgreSQL)."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.server import scale_app
    from tests.server.support import fresh_pg_database
    from tests.server.test_scale_manifest import _chain
    from zhishiyun_formats.manifest import verify_manifest
    from zhishiyun_server.settings import ServerConfig

    with fresh_pg_database() as url, scale_app.serve(
            ServerConfig(data_dir=tmp_path / "data", db_url=url, demo=True)) as served:
        entered = enter_written_exam(served.url)
        base = f"{served.url}/api/v1/sessions/{entered.session_id}"
        lines = _chain(entered.session_key, "screen", 40)
        events = [{"id": f"e{n}", "kind": "focus_lost", "at": "2026-12-01T09:00:00.000+08:00",
                   "details": {}} for n in range(40)]

        def resend(worker: int) -> tuple[list[int], int, int]:
            statuses, lines_new, events_new = [], 0, 0
            with requests.Session() as http:
                for n in range(0, 40, 4):
                    order = -1 if worker % 2 else 1  # half of them send each batch reversed
                    resp = http.post(f"{base}/manifest", json={"lines": lines[n:n + 4][::order]},
                                     headers=entered.auth, timeout=30)
                    statuses.append(resp.status_code)
                    lines_new += resp.json().get("accepted", 0)
                    resp = http.post(f"{base}/events", json={"events": events[n:n + 4]},
                                     headers=entered.auth, timeout=30)
                    statuses.append(resp.status_code)
                    events_new += resp.json().get("accepted", 0)
            return statuses, lines_new, events_new

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(resend, range(8)))
        assert {status for statuses, *_ in results for status in statuses} == {200}
        assert sum(new for _, new, _ in results) == 40  # each line stored by exactly one
        assert sum(new for *_, new in results) == 40  # each event stored by exactly one
        final = requests.post(f"{base}/manifest", json={"lines": []}, headers=entered.auth,
                              timeout=10).json()["verification"]
        assert final == verify_manifest(lines, entered.session_key).to_dict()
        assert final["ok"]
