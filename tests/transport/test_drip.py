"""A server that accepts the connection and then drips its reply, one byte every 2 s.

Each byte arrives inside any per-read timeout, so without a total deadline per request a
check, a login or an upload would wait for as long as the server keeps dripping. The bounds
asserted here are the ones the README's QA section documents.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.transport.conftest import zhishiyun
from zhishiyun.api import ApiError, ServerClient
from zhishiyun.api.tokens import MemoryTokenStore
from zhishiyun.api.transport import Transport
from zhishiyun.config import load_settings
from zhishiyun.upload.queue import PENDING, UploadQueue
from zhishiyun.upload.worker import UploadWorker

pytestmark = pytest.mark.integration
#: ``zhishiyun check --headless --only server,version,clock`` against a dripping server.
CHECK_BOUND_S = 30
#: connect 1 s + read 3 s: every request's deadline is 4 s; a byte every 2 s never trips
#: the read timeout, so only the deadline can end the request.
CONNECT_S, READ_S = 1.0, 3.0
DEADLINE_S = CONNECT_S + READ_S


def test_checks_finish_within_their_bound(drip_server):
    done, seconds = zhishiyun("check", "--headless", "--json", "--only",
                              "server,version,clock", "--server", drip_server.url,
                              timeout=CHECK_BOUND_S + 30)
    assert seconds < CHECK_BOUND_S, seconds
    results = {c["id"]: c for c in json.loads(done.stdout)["checks"]}
    assert done.returncode == 1
    assert results["server"]["status"] == "fail"
    assert results["server"]["details"]["error"] == "timed_out"
    assert drip_server.connections >= 1


def test_login_ends_at_its_deadline(drip_server):
    settings = load_settings({"server_url": drip_server.url, "connect_timeout": CONNECT_S,
                              "read_timeout": READ_S})
    client = ServerClient.from_settings(settings, token_store=MemoryTokenStore())
    started = time.monotonic()
    with pytest.raises(ApiError) as caught:
        client.login_password("110101199003070011", "zsy-demo-1")
    elapsed = time.monotonic() - started
    assert caught.value.code == "timeout"
    assert DEADLINE_S - 0.5 < elapsed < DEADLINE_S + 3, elapsed


def test_an_upload_attempt_ends_at_its_deadline_and_waits_to_retry(drip_server, tmp_path):
    segment = tmp_path / "000000.mp4"
    segment.write_bytes(b"\0" * 10_000)
    queue = UploadQueue(tmp_path / "q.sqlite3")
    queue.enqueue_segment("s1", "screen", 0, segment, drip_server.url + "/files/")
    waits: list[str] = []
    worker = UploadWorker(queue, lambda: "token",
                          transport=Transport(connect_timeout=CONNECT_S, read_timeout=READ_S))
    worker.worker_did_wait.append(lambda reason, seconds: waits.append(reason))
    started = time.monotonic()
    worker.start()
    try:
        while not waits and time.monotonic() - started < DEADLINE_S + 10:
            time.sleep(0.05)
        elapsed = time.monotonic() - started
    finally:
        assert worker.stop(timeout=DEADLINE_S + 2)
    assert waits[:1] == ["server_unreachable"]
    assert elapsed < DEADLINE_S + 3, elapsed
    [item] = queue.items()
    assert item.state == PENDING and "server unreachable" in item.reason
