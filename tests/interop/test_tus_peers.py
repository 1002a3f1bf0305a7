"""Interop with the tus project's own peers (node): their client → our server, our
uploader → their server. Each side is stopped with SIGKILL halfway and resumes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.upload.conftest import (
    REPO,
    enter_written_exam,
    stored_upload_sha256,
    tus_offset,
    write_segments,
)
from tests.upload.proxy import Proxy
from zhishiyun.paths import queue_db
from zhishiyun.upload.queue import UploadQueue
from zhishiyun.upload.worker import DEFAULT_CHUNK_SIZE

HERE = Path(__file__).resolve().parent
MB = 1024 * 1024
pytestmark = [pytest.mark.integration, pytest.mark.node]


@pytest.fixture(scope="module")
def node() -> str:
    exe = shutil.which("node")
    if exe is None:
        pytest.skip("node is not installed: the tus project's peers (npm) cannot run here")
    if not (HERE / "node_modules" / "@tus" / "server").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True,
                       capture_output=True)
    return exe


def lines_until(proc: subprocess.Popen, predicate, timeout: float = 60) -> list[str]:
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line.strip())
        if predicate(seen[-1]):
            return seen
    raise AssertionError(f"node said: {seen}")


def test_tus_js_client_uploads_to_our_server_and_resumes_after_sigkill(
        node, demo_server, tmp_path):
    entered = enter_written_exam(demo_server.url)
    [path] = write_segments(tmp_path / entered.session_id, entered.session_key, "jsclient",
                            [4 * MB])
    size = path.stat().st_size
    proxy = Proxy(demo_server.port, rate=4 * MB)
    meta = json.dumps({"session_id": entered.session_id, "track": "jsclient", "seq": "0",
                       "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                       "filename": "0.mp4"})
    cmd = [node, str(HERE / "js-upload.mjs"), proxy.url + "/files/", str(path), entered.token,
           meta, str(256 * 1024)]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=HERE)
    seen = lines_until(first, lambda line: line.startswith("progress ")
                       and int(line.split()[1]) >= size // 2)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert proxy.idle()
    url = next(x.split(" ", 1)[1] for x in seen if x.startswith("url "))
    offset = tus_offset(url, entered.auth)
    assert size // 2 <= offset < size

    second = subprocess.run([*cmd, url], capture_output=True, text=True, cwd=HERE, timeout=60)
    out = second.stdout.split()
    assert second.returncode == 0 and "done" in out, second.stdout + second.stderr
    assert proxy.patch_body_bytes - size <= 256 * 1024  # resumed, not restarted
    assert stored_upload_sha256(demo_server, entered.session_id, "jsclient", 0) == \
        hashlib.sha256(path.read_bytes()).hexdigest()
    assert entered.client.recordings(entered.session_id).tracks["jsclient"].received == [0]
    proxy.close()


def test_our_uploader_uploads_to_tus_node_server_and_resumes_after_sigkill(node, tmp_path):
    store = tmp_path / "tus-node-files"
    store.mkdir()
    port = free_port()
    server = subprocess.Popen([node, str(HERE / "tus-node-server.mjs"), str(port), str(store)],
                              stdout=subprocess.PIPE, text=True, cwd=HERE)
    try:
        lines_until(server, lambda line: line.startswith("listening"), 20)
        proxy = Proxy(port, rate=8_000_000)
        segment = tmp_path / "0.mp4"
        segment.write_bytes(os.urandom(24 * MB))
        data_dir = tmp_path / "client"
        queue = UploadQueue(queue_db(data_dir))
        queue.enqueue_segment("interop", "screen", 0, segment, proxy.url + "/files/")
        queue.close()
        db_path = queue_db(data_dir)

        def start_child() -> subprocess.Popen:
            child = subprocess.Popen(
                [sys.executable, str(REPO / "tests" / "upload" / "upload_child.py"), "",
                 str(data_dir)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True, cwd=REPO,
                env={**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"})
            child.stdin.write("any-token\n")
            child.stdin.close()
            child.stdin = None
            return child

        def done_bytes() -> int:
            with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
                return db.execute("SELECT bytes_done FROM items").fetchone()[0]

        child = start_child()
        deadline = time.monotonic() + 60
        while done_bytes() < segment.stat().st_size // 2:
            assert time.monotonic() < deadline and child.poll() is None
            time.sleep(0.02)
        time.sleep(0.3)  # into the next chunk: the kill cuts it in the middle
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert proxy.idle()
        with sqlite3.connect(db_path) as db:
            [url] = db.execute("SELECT url FROM tus_urls").fetchone()
        offset = tus_offset(url)
        assert segment.stat().st_size // 2 <= offset < segment.stat().st_size

        child = start_child()
        out, _ = child.communicate(timeout=120)
        assert child.returncode == 0, out
        with sqlite3.connect(db_path) as db:
            resumed = db.execute("SELECT resumed_from FROM items").fetchone()[0]
        assert resumed == offset
        assert proxy.patch_body_bytes - segment.stat().st_size <= DEFAULT_CHUNK_SIZE
        stored = store / url.rstrip("/").rsplit("/", 1)[1]
        assert hashlib.sha256(stored.read_bytes()).hexdigest() == \
            hashlib.sha256(segment.read_bytes()).hexdigest()
        proxy.close()
    finally:
        server.kill()
        server.wait()
