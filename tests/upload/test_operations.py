"""Queue rows name API operations, not URLs; queues written by the older version still deliver."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest

from tests.upload.conftest import enter_written_exam
from zhishiyun.upload.queue import DONE, UploadQueue
from zhishiyun.upload.session import SessionUploads
from zhishiyun.upload.worker import UploadWorker

pytestmark = pytest.mark.integration

#: The items table as the previous version wrote it (URLs in ``target``).
OLD_ITEMS = """
CREATE TABLE items (
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, session_id TEXT NOT NULL, track TEXT,
    seq INTEGER, path TEXT, target TEXT NOT NULL, method TEXT NOT NULL DEFAULT 'POST',
    payload TEXT, size INTEGER NOT NULL DEFAULT 0, sha256 TEXT,
    state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
    reason TEXT NOT NULL DEFAULT '', bytes_done INTEGER NOT NULL DEFAULT 0,
    resumed_from INTEGER NOT NULL DEFAULT 0, sent_bytes INTEGER NOT NULL DEFAULT 0,
    rejected_chunks INTEGER NOT NULL DEFAULT 0, restarts INTEGER NOT NULL DEFAULT 0,
    dedupe TEXT NOT NULL UNIQUE, created_at REAL NOT NULL, updated_at REAL NOT NULL);
"""


@pytest.fixture
def started_server(server_factory):
    """The demo server with the written exam already started (answers are accepted)."""
    return server_factory(env={"ZHISHIYUN_DEMO_WRITTEN_START_DELAY_S": "0"})


def _deliver(queue: UploadQueue, token: str) -> None:
    worker = UploadWorker(queue, lambda: token)
    worker.start()
    try:
        assert worker.wait_idle(30)
    finally:
        worker.stop()


def test_new_rows_store_the_operation_and_no_url(started_server, tmp_path):
    entered = enter_written_exam(started_server.url)
    queue = UploadQueue(tmp_path / "q.sqlite3")
    uploads = SessionUploads(queue, entered.session_id, entered.upload_url,
                             entered.client.api_url, tmp_path / "s")
    assert uploads.put_answer("q7", 3, {"version": 3, "content": "第七题"})
    assert not uploads.put_answer("q7", 3, {"version": 3, "content": "第七题"})  # once
    assert uploads.post_events([{"id": "ev-ops-1", "kind": "focus_lost",
                                 "at": "2026-11-23T19:30:00+08:00"}])
    [answer, events] = queue.items()
    assert (answer.operation, answer.arguments, answer.target) == (
        "put_answer", {"question_id": "q7", "version": 3}, "")
    assert answer.label == "answer q7 v3"
    assert events.operation == "post_events" and events.server == started_server.url
    _deliver(queue, entered.token)
    assert {i.state for i in queue.items()} == {DONE}
    stored = {a.question_id: a.content for a in entered.client.answers(entered.session_id)}
    assert stored["q7"] == "第七题"


def test_a_queue_written_by_the_older_version_is_converted_and_delivered(started_server,
                                                                         tmp_path):
    entered = enter_written_exam(started_server.url)
    api = f"{entered.client.api_url}/sessions/{entered.session_id}"
    message = entered.client.messages().messages[0]
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(OLD_ITEMS)
        now = time.time()
        rows = [("answer", f"{api}/answers/q8", "PUT", {"version": 1, "content": "旧队列"}),
                ("events", f"{api}/events", "POST", {"events": [
                    {"id": "ev-old-1", "kind": "focus_lost",
                     "at": "2026-11-23T19:30:00+08:00"}]}),
                # not an operation this version knows: still sent to its URL
                ("read", f"{entered.client.api_url}/messages/{message.id}/read", "POST", {})]
        for number, (kind, target, method, body) in enumerate(rows):
            text = json.dumps(body)
            db.execute("INSERT INTO items (kind, session_id, target, method, payload, size, "
                       "dedupe, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (kind, entered.session_id, target, method, text, len(text),
                        f"old:{number}", now, now))
    queue = UploadQueue(path)
    answer, events, read = queue.items()
    assert (answer.operation, answer.arguments) == ("put_answer", {"question_id": "q8"})
    assert answer.server == started_server.url
    assert events.operation == "post_events"
    assert read.operation is None and read.target.endswith("/read")
    _deliver(queue, entered.token)
    assert {i.state for i in queue.items()} == {DONE}
    stored = {a.question_id: a.content for a in entered.client.answers(entered.session_id)}
    assert stored["q8"] == "旧队列"
    assert next(m for m in entered.client.messages().messages if m.id == message.id).read
