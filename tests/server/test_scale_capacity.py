"""Slow uploads do not starve the database pool, and past capacity the answer is 503 + Retry-After.

Real server processes (``zhishiyun-server --demo`` on SQLite) with small limits set through
their environment, and PATCHes that stall mid-body as on a slow uplink.
"""

from __future__ import annotations

import base64
import contextlib
import os
import socket
import sqlite3
import time

import pytest
import requests

from tests.upload.conftest import enter_written_exam

pytestmark = pytest.mark.integration
TUS = {"Tus-Resumable": "1.0.0"}


def _create(server, entered, seq: int, length: int) -> str:
    meta = {"session_id": entered.session_id, "track": "screen", "seq": str(seq),
            "sha256": "0" * 64}
    resp = requests.post(f"{server.url}/files/", timeout=10, headers={
        **TUS, **entered.auth, "Upload-Length": str(length), "Upload-Metadata": ",".join(
            f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in meta.items())})
    assert resp.status_code == 201, resp.text
    return resp.headers["Location"]


def _stall(server, entered, location: str, length: int) -> socket.socket:
    """A PATCH that sent its headers and a little of its body, and then nothing."""
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall((f"PATCH {location} HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\n"
                  f"Authorization: {entered.auth['Authorization']}\r\n"
                  "Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n"
                  f"Content-Length: {length}\r\n\r\n").encode() + b"\0" * 1000)
    return sock


def test_streaming_patches_hold_no_database_connection(server_factory):
    server = server_factory(env={"ZHISHIYUN_SERVER_DB_POOL_SIZE": "2",
                                 "ZHISHIYUN_SERVER_DB_POOL_OVERFLOW": "0"})
    entered = enter_written_exam(server.url)
    stalled = [_stall(server, entered, _create(server, entered, seq, 100_000), 100_000)
               for seq in range(4)]  # twice as many slow uploads as pooled connections
    try:
        time.sleep(0.5)
        started = time.monotonic()
        resp = requests.get(f"{server.url}/api/v1/exams", headers=entered.auth, timeout=15)
        assert resp.status_code == 200, resp.text
        assert time.monotonic() - started < 3.0  # not queued behind the uploads
    finally:
        for sock in stalled:
            sock.close()


def test_past_the_inflight_cap_requests_get_503_with_retry_after(server_factory):
    # Only the in-flight cap under test: a loaded test machine must not trip the lag guard.
    server = server_factory(env={"ZHISHIYUN_SERVER_MAX_INFLIGHT": "3",
                                 "ZHISHIYUN_SERVER_MAX_LAG_MS": "60000"})
    entered = enter_written_exam(server.url)
    # Create the uploads first, then stall PATCHes one by one until the cap is reached (the
    # app's own work, e.g. a create's tail, may hold a slot too): the cap answers new
    # requests with 503 and leaves the admitted uploads alone.
    uploads = [_create(server, entered, seq, 100_000) for seq in range(4)]
    stalled = []
    try:
        for upload in uploads:
            stalled.append(_stall(server, entered, upload, 100_000))
            deadline = time.monotonic() + 5  # until the PATCH has reached the app
            while (resp := requests.get(f"{server.url}/api/v1/time", timeout=5)).status_code \
                    == 200 and time.monotonic() < deadline:
                time.sleep(0.2)
            if resp.status_code == 503:
                break
        for sock in stalled:  # still waiting for their bodies, not answered
            sock.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                assert not sock.recv(200), "a stalled PATCH was answered"
        assert resp.status_code == 503
        assert resp.headers["Retry-After"].isdigit()
        assert resp.json()["error"]["code"] == "server_busy"
        assert requests.get(f"{server.url}/api/v1/health", timeout=5).status_code == 200
    finally:
        for sock in stalled:
            sock.close()
    deadline = time.monotonic() + 10
    while requests.get(f"{server.url}/api/v1/time", timeout=5).status_code != 200:
        assert time.monotonic() < deadline, "the server stayed busy after the uploads ended"
        time.sleep(0.2)


def _event(server, entered) -> requests.Response:
    return requests.post(f"{server.url}/api/v1/sessions/{entered.session_id}/events",
                         json={"events": [{"id": "e1", "kind": "focus_lost",
                                           "at": "2026-12-01T09:00:00.000+08:00"}]},
                         headers=entered.auth, timeout=30)


def test_a_database_busy_past_its_timeout_is_503_not_500(server_factory):
    server = server_factory()
    entered = enter_written_exam(server.url)
    blocker = sqlite3.connect(server.db_url.removeprefix("sqlite:///"), timeout=1)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the database
    try:
        resp = _event(server, entered)
        assert resp.status_code == 503, resp.text
        assert resp.headers["Retry-After"].isdigit()
    finally:
        blocker.rollback()
        blocker.close()
    resp = _event(server, entered)
    assert resp.status_code == 200, resp.text  # the client's retry after Retry-After works


def test_a_lagging_loop_or_a_thread_queue_sheds_new_work_until_it_catches_up():
    import threading

    import uvicorn
    from fastapi import FastAPI

    from tests.conftest import free_port
    from zhishiyun_server.capacity import InflightLimit

    app = FastAPI()

    @app.get("/api/v1/busy")
    async def busy() -> dict:  # work that holds the event loop, as a saturated process does
        time.sleep(0.3)
        return {}

    @app.get("/api/v1/time")
    async def now() -> dict:
        return {"ok": True}

    @app.get("/api/v1/slow")
    def slow() -> dict:  # a sync handler: it holds one of the 40 worker threads
        time.sleep(1.0)
        return {}

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(InflightLimit(app, lag_ms=50), host="127.0.0.1",
                                           port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert requests.get(f"{base}/time", timeout=5).status_code == 200
        for _ in range(3):
            requests.get(f"{base}/busy", timeout=5)
        shed = requests.get(f"{base}/time", timeout=5)
        assert shed.status_code == 503 and shed.headers["Retry-After"].isdigit()
        time.sleep(1.0)  # the loop is on time again
        assert requests.get(f"{base}/time", timeout=5).status_code == 200

        # More requests waiting for a worker thread than the queue allows: new work is shed.
        import concurrent.futures

        with concurrent.futures.ThreadPoolExecutor(70) as pool:
            slow = [pool.submit(requests.get, f"{base}/slow", timeout=20) for _ in range(70)]
            time.sleep(0.5)
            queued = requests.get(f"{base}/time", timeout=5)
            statuses = sorted({f.result().status_code for f in slow})
        assert queued.status_code == 503
        assert statuses[0] == 200  # the work it had taken on finished normally
    finally:
        server.should_exit = True
        thread.join(10)


def test_fastapi_telemetry_is_on_only_when_opentelemetry_is_configured(monkeypatch, tmp_path):
    from zhishiyun_server.app import create_app
    from zhishiyun_server.settings import ServerConfig

    for name in [n for n in os.environ if n.startswith("OTEL_")]:
        monkeypatch.delenv(name)
    monkeypatch.delenv("FASTAPI_OTEL_AUTO_CONFIGURE", raising=False)
    plain = create_app(ServerConfig.from_env(data_dir=tmp_path / "a"))
    assert not any(plain._telemetry[k] for k in ("tracing", "metrics", "logs",
                                                   "operation_spans"))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    traced = create_app(ServerConfig.from_env(data_dir=tmp_path / "b"))
    assert all(traced._telemetry[k] for k in ("tracing", "metrics", "logs", "operation_spans"))
