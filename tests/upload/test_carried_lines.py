"""The upload worker sends a segment's manifest line with the segment's tus creation.

The real exam server app on uvicorn over HTTP (SQLite), wrapped to log every request it
gets; the real upload queue and worker. While nothing backs up, a recording's segments go
up with no ``POST /manifest`` at all; when segments back up, every line is posted first,
as before; a server that ignores the carried line gets every line posted.
"""

from __future__ import annotations

import contextlib
import os
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

from tests.server.scale_app import serve
from tests.upload.conftest import enter_written_exam
from zhishiyun.capture.manifest import ManifestWriter, canonical_bytes, format_time, sha256_file
from zhishiyun.capture.recovery import segment_path
from zhishiyun.upload.queue import DONE, UploadQueue
from zhishiyun.upload.session import SessionUploads
from zhishiyun.upload.worker import UploadWorker
from zhishiyun_server.settings import ServerConfig
from zhishiyun_server.tus.endpoint import ExamUploadHooks

pytestmark = pytest.mark.integration
TRACK = "screen"


class Logged:
    """An ASGI app that logs ``(method, path)`` of every HTTP request before passing it on."""

    def __init__(self, app) -> None:
        self.app, self.log = app, []

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            self.log.append((scope["method"], scope["path"]))
        await self.app(scope, receive, send)

    def manifest_posts(self) -> list[int]:
        return [n for n, (method, path) in enumerate(self.log)
                if method == "POST" and path.endswith("/manifest")]

    def creations(self) -> list[int]:
        return [n for n, (method, path) in enumerate(self.log)
                if method == "POST" and path.rstrip("/").endswith("/files")]


@contextlib.contextmanager
def logged_server(tmp_path, logger: type[Logged] = Logged):
    """The exam server (demo data) on a free port; yields (served app, its ``logger``)."""
    logged: list[Logged] = []

    def wrap(app) -> Logged:
        logged.append(logger(app))
        return logged[0]

    with serve(ServerConfig(data_dir=tmp_path / "data", demo=True), wrap=wrap) as served:
        yield served, logged[0]


class Recorder:
    """Closes segments as the recorder does: the file, its signed line, both queued."""

    def __init__(self, uploads: SessionUploads, session_dir, key: str) -> None:
        self.uploads, self.dir = uploads, session_dir
        self.manifest = ManifestWriter(session_dir / "manifest.jsonl", key)
        self.seq = 0

    def close_segment(self, size: int = 150_000) -> None:
        path = segment_path(self.dir, TRACK, self.seq)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))
        sha, size = sha256_file(path)
        start = format_time(datetime.now(timezone.utc) - timedelta(seconds=2))
        written = self.manifest.append({"seq": self.seq, "track": TRACK, "start": start,
                                        "duration_ms": 2000, "bytes": size, "sha256": sha})
        self.uploads.add_segment(TRACK, self.seq, path, canonical_bytes(written).decode(),
                                 sha256=sha, size=size)
        self.seq += 1


def _start(tmp_path, url: str):
    entered = enter_written_exam(url)
    queue = UploadQueue(tmp_path / "queue.sqlite3")
    uploads = SessionUploads(queue, entered.session_id, entered.upload_url,
                             entered.client.api_url, tmp_path / "session")
    recorder = Recorder(uploads, tmp_path / "session", entered.session_key)
    return entered, queue, recorder


def _track(entered) -> dict:
    reply = requests.get(f"{entered.client.api_url}/sessions/{entered.session_id}/recordings",
                         headers=entered.auth, timeout=30)
    return reply.json()["tracks"][TRACK]


def _all_done(queue: UploadQueue) -> None:
    assert {(item.kind, item.state) for item in queue.items()} == {
        ("manifest", DONE), ("segment", DONE)}


def _close_and_upload(queue: UploadQueue, entered, recorder, segments: int) -> None:
    """Close ``segments`` segments one by one, each uploaded before the next closes."""
    worker = UploadWorker(queue, lambda: entered.token)
    worker.start()
    try:
        for _ in range(segments):
            recorder.close_segment()
            assert worker.wait_idle(30)
    finally:
        worker.stop()


def test_segments_that_do_not_back_up_need_no_manifest_post(tmp_path):
    with logged_server(tmp_path) as (served, logged):
        url = served.url
        entered, queue, recorder = _start(tmp_path, url)
        _close_and_upload(queue, entered, recorder, segments=5)
        assert len(logged.creations()) == 5
        assert logged.manifest_posts() == []
        _all_done(queue)
        track = _track(entered)
        assert track["received"] == [0, 1, 2, 3, 4] and track["chain_ok"] is True
        assert track["unsigned"] == [] and track["late"] == []

        # A crash after the creation recorded the line but before its item was marked
        # done: the line is posted again on the next start, and that is no error.
        line_item = next(item for item in queue.items() if item.kind == "manifest")
        queue.mark_retry(line_item.id, "")
        again = UploadWorker(queue, lambda: entered.token)
        again.start()
        try:
            assert again.wait_idle(30)
        finally:
            again.stop()
        assert len(logged.manifest_posts()) == 1
        _all_done(queue)
        assert _track(entered)["chain_ok"] is True


def test_when_segments_back_up_their_lines_are_posted_first(tmp_path):
    with logged_server(tmp_path) as (served, logged):
        url = served.url
        entered, queue, recorder = _start(tmp_path, url)
        for _ in range(4):  # recorded while the uploader was not running
            recorder.close_segment()
        worker = UploadWorker(queue, lambda: entered.token, rate_limit_bps=150_000)
        worker.start()
        try:
            deadline = time.monotonic() + 30
            while not any(item.kind == "segment" and item.state == DONE
                          for item in queue.items()) and time.monotonic() < deadline:
                time.sleep(0.02)
            recorder.close_segment()  # the backlog is being uploaded, slowly: posted first
            assert worker.wait_idle(60)
        finally:
            worker.stop()
        posts, creations = logged.manifest_posts(), logged.creations()
        assert len(posts) == 5 and len(creations) == 5
        assert max(posts[:4]) < min(creations)  # the backlog's lines before any segment
        assert posts[4] < creations[4]  # the late line before its own segment
        _all_done(queue)
        assert _track(entered)["chain_ok"] is True


def test_a_server_that_ignores_carried_lines_gets_them_posted(tmp_path, monkeypatch):
    # A server from before this feature: "manifest" is plain metadata, no reply header.
    monkeypatch.setattr(ExamUploadHooks, "carried_metadata", frozenset())
    with logged_server(tmp_path) as (served, logged):
        url = served.url
        entered, queue, recorder = _start(tmp_path, url)
        _close_and_upload(queue, entered, recorder, segments=3)
        posts = logged.manifest_posts()
        patches = [n for n, (method, _path) in enumerate(logged.log) if method == "PATCH"]
        assert len(posts) == 3 and len(patches) == 3
        assert all(post < patch for post, patch in zip(posts, patches, strict=True))
        # Only the first segment was created with its line (and resumed after the post,
        # one HEAD); the worker then posts the lines of that server first.
        assert len(logged.creations()) == 3
        assert [method for method, _path in logged.log].count("HEAD") == 1
        _all_done(queue)
        track = _track(entered)
        assert track["received"] == [0, 1, 2] and track["chain_ok"] is True
