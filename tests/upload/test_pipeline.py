"""The whole pipeline against the real server: queue → worker → tus → recordings."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.upload.conftest import (
    REPO,
    enter_written_exam,
    stored_upload_sha256,
    tus_offset,
    write_segments,
)
from tests.upload.proxy import Proxy
from zhishiyun.paths import queue_db
from zhishiyun.upload.policy import Backoff
from zhishiyun.upload.queue import DONE, FAILED, UploadQueue
from zhishiyun.upload.session import SessionUploads
from zhishiyun.upload.worker import DEFAULT_CHUNK_SIZE, UploadWorker

pytestmark = [pytest.mark.integration, pytest.mark.slow]
MB = 1024 * 1024


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def feed(queue, entered, session_dir, base_url=None) -> SessionUploads:
    base = base_url or entered.client.base_url
    uploads = SessionUploads(queue, entered.session_id, base + "/files/", base + "/api/v1",
                             session_dir)
    uploads.enqueue_session_dir()
    return uploads


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def segment_row(db_path: Path, track: str) -> sqlite3.Row:
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        db.row_factory = sqlite3.Row
        return db.execute("SELECT * FROM items WHERE kind='segment' AND track=?",
                          (track,)).fetchone()


def test_50_mb_segment_arrives_whole_with_progress(demo_server, tmp_path):
    entered = enter_written_exam(demo_server.url)
    session_dir = tmp_path / entered.session_id
    [path] = write_segments(session_dir, entered.session_key, "big", [50 * 1000 * 1000])
    queue = UploadQueue(tmp_path / "q.sqlite3")
    feed(queue, entered, session_dir)
    worker = UploadWorker(queue, lambda: entered.token)
    items, sessions = [], []
    worker.upload_did_progress.append(items.append)
    worker.session_did_progress.append(sessions.append)
    worker.start()
    assert worker.wait_idle(120)
    worker.stop()
    assert {i.kind: i.state for i in queue.items()} == {"manifest": DONE, "segment": DONE}
    track = entered.client.recordings(entered.session_id).tracks["big"]
    assert (track.received, track.missing, track.chain_ok) == ([0], [], True)
    assert track.bytes == path.stat().st_size
    assert stored_upload_sha256(demo_server, entered.session_id, "big", 0) == sha(path)
    seg = [p for p in items if p.label == "big/0.mp4"]
    assert len(seg) >= 3  # chunk by chunk (sized to about a second each), then done
    assert [p.bytes_done for p in seg] == sorted(p.bytes_done for p in seg)
    assert seg[-1].state == DONE and seg[-1].bytes_done == seg[-1].bytes_total
    assert any(p.eta_s and p.rate_bps > 0 for p in seg[:-1])
    assert sessions[-1].bytes_done == sessions[-1].bytes_total


def _start_child(proxy: Proxy, data_dir: Path, token: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("upload_child.py")), proxy.url,
         str(data_dir)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO)
    child.stdin.write(token + "\n")
    child.stdin.close()
    child.stdin = None
    return child


def test_sigkill_halfway_resumes_from_server_offset(demo_server, tmp_path):
    entered = enter_written_exam(demo_server.url)
    session_dir = tmp_path / entered.session_id
    [path] = write_segments(session_dir, entered.session_key, "killed", [24 * MB])
    size = path.stat().st_size
    # 8 MB/s: chunks sized to about a second stay below DEFAULT_CHUNK_SIZE
    proxy = Proxy(demo_server.port, rate=8_000_000)
    data_dir = tmp_path / "client"
    queue = UploadQueue(queue_db(data_dir))
    feed(queue, entered, session_dir, proxy.url)
    queue.close()
    db_path = queue_db(data_dir)

    child = _start_child(proxy, data_dir, entered.token)
    wait_for(lambda: segment_row(db_path, "killed")["bytes_done"] >= size // 2, 60,
             "half of the upload")
    time.sleep(0.3)  # into the next chunk: the kill cuts it in the middle
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert proxy.idle()  # whatever the killed client had sent has reached the server
    confirmed = segment_row(db_path, "killed")["bytes_done"]
    with sqlite3.connect(db_path) as db:
        [url] = db.execute("SELECT url FROM tus_urls").fetchone()
    server_offset = tus_offset(url, entered.auth)
    assert 0 < confirmed <= server_offset < size

    child = _start_child(proxy, data_dir, entered.token)
    out, _ = child.communicate(timeout=120)
    assert child.returncode == 0, out
    assert "All uploads are complete." in out
    row = segment_row(db_path, "killed")
    assert row["state"] == DONE and row["resumed_from"] == server_offset, out
    resent = proxy.patch_body_bytes - size
    assert 0 <= resent <= DEFAULT_CHUNK_SIZE, f"re-sent {resent} bytes"
    assert stored_upload_sha256(demo_server, entered.session_id, "killed", 0) == sha(path)
    assert entered.client.recordings(entered.session_id).tracks["killed"].received == [0]
    proxy.close()


def test_server_down_20_s_mid_upload_completes_by_itself(server_factory, tmp_path):
    server = server_factory()
    entered = enter_written_exam(server.url)
    session_dir = tmp_path / entered.session_id
    [path] = write_segments(session_dir, entered.session_key, "screen", [12 * MB])
    queue = UploadQueue(tmp_path / "q.sqlite3")
    feed(queue, entered, session_dir)
    worker = UploadWorker(queue, lambda: entered.token, chunk_size=MB,
                          backoff=Backoff(base=0.5, cap=3.0), rate_limit_bps=MB)
    waits = []  # 1 MB/s: the 9 MB left outlast a slow server stop on a loaded machine
    worker.worker_did_wait.append(lambda reason, seconds: waits.append(reason))
    worker.start()
    wait_for(lambda: segment_row(tmp_path / "q.sqlite3", "screen")["bytes_done"] >= 3 * MB,
             30, "some progress")
    server.stop()
    time.sleep(20)
    assert segment_row(tmp_path / "q.sqlite3", "screen")["state"] != DONE
    server.start()
    assert worker.wait_idle(60)
    worker.stop()
    row = segment_row(tmp_path / "q.sqlite3", "screen")
    assert row["state"] == DONE and row["attempts"] > 1 and row["resumed_from"] >= 3 * MB
    assert row["restarts"] == 0
    assert "server_unreachable" in waits
    assert stored_upload_sha256(server, entered.session_id, "screen", 0) == sha(path)


def test_corrupted_chunk_is_rejected_and_sent_again(demo_server, tmp_path):
    entered = enter_written_exam(demo_server.url)
    session_dir = tmp_path / entered.session_id
    [path] = write_segments(session_dir, entered.session_key, "corrupt", [5 * MB])
    proxy = Proxy(demo_server.port, corrupt_patch=2)
    queue = UploadQueue(tmp_path / "q.sqlite3")
    feed(queue, entered, session_dir, proxy.url)
    worker = UploadWorker(queue, lambda: entered.token, chunk_size=MB)
    worker.start()
    assert worker.wait_idle(60)
    worker.stop()
    row = segment_row(tmp_path / "q.sqlite3", "corrupt")
    assert proxy.corrupted == 1
    assert row["state"] == DONE and row["rejected_chunks"] == 1
    assert proxy.patch_body_bytes == path.stat().st_size + MB  # exactly one chunk again
    assert stored_upload_sha256(demo_server, entered.session_id, "corrupt", 0) == sha(path)
    proxy.close()


def test_refused_upload_fails_with_reason_and_the_rest_goes_on(demo_server, tmp_path):
    entered = enter_written_exam(demo_server.url)
    session_dir = tmp_path / entered.session_id
    [path] = write_segments(session_dir, entered.session_key, "refused", [1000])
    queue = UploadQueue(tmp_path / "q.sqlite3")
    queue.enqueue_segment("not-my-session", "refused", 0, path, entered.upload_url)
    feed(queue, entered, session_dir)
    worker = UploadWorker(queue, lambda: entered.token)
    finished = []
    worker.item_did_finish.append(finished.append)
    worker.start()
    assert worker.wait_idle(30)
    worker.stop()
    bad = next(i for i in queue.items() if i.session_id == "not-my-session")
    assert bad.state == FAILED and "404" in bad.reason and bad.attempts == 1
    assert all(i.state == DONE for i in queue.items() if i.session_id == entered.session_id)
    assert {i.state for i in finished} == {DONE, FAILED}


def test_expired_upload_starts_again_from_zero(server_factory, tmp_path):
    server = server_factory(env={"ZHISHIYUN_SERVER_UPLOAD_EXPIRY_S": "1"})
    entered = enter_written_exam(server.url)
    session_dir = tmp_path / entered.session_id
    [path] = write_segments(session_dir, entered.session_key, "screen", [3 * MB])
    queue = UploadQueue(tmp_path / "q.sqlite3")
    feed(queue, entered, session_dir)
    worker = UploadWorker(queue, lambda: entered.token, chunk_size=256 * 1024,
                          rate_limit_bps=2 * MB)
    worker.start()
    wait_for(lambda: segment_row(tmp_path / "q.sqlite3", "screen")["bytes_done"] > 0, 30,
             "the first chunk")
    assert worker.stop(10)
    time.sleep(1.5)  # the unfinished upload expires on the server
    worker = UploadWorker(UploadQueue(tmp_path / "q.sqlite3"), lambda: entered.token)
    worker.start()
    assert worker.wait_idle(30)
    worker.stop()
    row = segment_row(tmp_path / "q.sqlite3", "screen")
    assert row["state"] == DONE and row["restarts"] == 1 and row["resumed_from"] == 0
    assert stored_upload_sha256(server, entered.session_id, "screen", 0) == sha(path)
