"""Answers, event batches and the ``zhishiyun upload`` command against the real server."""

from __future__ import annotations

import argparse
import time

import pytest

from tests.upload.conftest import enter_written_exam, write_segments
from zhishiyun.config import load_settings
from zhishiyun.upload import command
from zhishiyun.upload.queue import DONE, FAILED, PENDING, UploadQueue
from zhishiyun.upload.session import SessionUploads
from zhishiyun.upload.worker import UploadWorker

pytestmark = pytest.mark.integration


def test_answers_and_events_are_delivered_and_bad_ones_fail_with_reason(server_factory,
                                                                        tmp_path):
    server = server_factory(env={"ZHISHIYUN_DEMO_WRITTEN_START_DELAY_S": "0"})
    entered = enter_written_exam(server.url)
    api = f"{entered.client.api_url}/sessions/{entered.session_id}"
    queue = UploadQueue(tmp_path / "q.sqlite3")
    queue.enqueue_json("answer", entered.session_id, f"{api}/answers/q1",
                       {"version": 1, "content": "答案 A"}, method="PUT",
                       dedupe=f"answer:{entered.session_id}:q1:1")
    queue.enqueue_json("events", entered.session_id, f"{api}/events", {"events": [
        {"id": "e1", "kind": "focus_lost", "at": "2026-11-23T19:30:00+08:00"}]})
    queue.enqueue_json("events", entered.session_id, f"{api}/events", {"events": "nonsense"})
    worker = UploadWorker(queue, lambda: entered.token)
    worker.start()
    assert worker.wait_idle(30)
    worker.stop()
    states = [(i.kind, i.state) for i in queue.items()]
    assert states == [("answer", DONE), ("events", DONE), ("events", FAILED)]
    assert "422" in queue.items()[2].reason
    [answer] = entered.client.answers(entered.session_id)
    assert answer.content == "答案 A"


def test_expired_login_waits_instead_of_failing(demo_server, tmp_path):
    entered = enter_written_exam(demo_server.url)
    session_dir = tmp_path / entered.session_id
    write_segments(session_dir, entered.session_key, "relogin", [1000])
    queue = UploadQueue(tmp_path / "q.sqlite3")
    SessionUploads(queue, entered.session_id, entered.upload_url, entered.client.api_url,
                   session_dir).enqueue_session_dir()
    token = {"value": "not-a-valid-token"}
    waits = []
    worker = UploadWorker(queue, lambda: token["value"])
    worker.worker_did_wait.append(lambda reason, seconds: waits.append(reason))
    worker.start()
    deadline = time.monotonic() + 10
    while not waits and time.monotonic() < deadline:
        time.sleep(0.05)
    assert waits == ["not_logged_in"]
    assert {i.state for i in queue.items()} == {PENDING}
    token["value"] = entered.token  # logged in again
    worker.retry_now()
    assert worker.wait_idle(30)
    worker.stop()
    assert {i.state for i in queue.items()} == {DONE}


def _args(wait: bool) -> argparse.Namespace:
    return argparse.Namespace(wait=wait)


def test_upload_command_with_nothing_to_do(tmp_path, capsys):
    settings = load_settings({"data_dir": str(tmp_path)})
    assert command.run(_args(False), settings) == 0
    assert "Nothing to upload." in capsys.readouterr().out


def test_upload_command_recovers_unqueued_segments_of_a_session(demo_server, tmp_path,
                                                                capsys):
    entered = enter_written_exam(demo_server.url)
    session_dir = tmp_path / "sessions" / entered.session_id
    write_segments(session_dir, entered.session_key, "recover", [2000])
    settings = load_settings({"data_dir": str(tmp_path)})
    queue = UploadQueue(command.queue_path(settings))
    SessionUploads(queue, entered.session_id, entered.upload_url, entered.client.api_url,
                   session_dir)  # registered, but the crash came before anything was queued
    queue.close()
    write_segments(session_dir, entered.session_key, "recover2", [3000])
    from zhishiyun.api.tokens import TokenStore

    store = TokenStore(demo_server.url)
    store.set(entered.token)
    try:
        assert command.run(_args(False), settings) == 0
    finally:
        store.clear()
    out = capsys.readouterr().out
    assert "All uploads are complete." in out
    tracks = entered.client.recordings(entered.session_id).tracks
    assert tracks["recover"].received == [0] and tracks["recover2"].received == [0]


def test_upload_command_stops_at_a_network_pause_without_wait(tmp_path, capsys):
    settings = load_settings({"data_dir": str(tmp_path), "server_url": "http://127.0.0.1:9"})
    queue = UploadQueue(command.queue_path(settings))
    segment = tmp_path / "0.mp4"
    segment.write_bytes(b"x" * 100)
    queue.enqueue_segment("s", "screen", 0, segment, "http://127.0.0.1:9/files/")
    queue.close()
    from zhishiyun.api.tokens import TokenStore

    store = TokenStore("http://127.0.0.1:9")
    store.set("token")
    try:
        assert command.run(_args(False), settings) == 1
    finally:
        store.clear()
    out = capsys.readouterr().out
    assert "1 item(s) still to upload" in out
    assert UploadQueue(command.queue_path(settings)).get(1).state == PENDING


def test_an_unreachable_server_does_not_hold_up_the_others(demo_server, tmp_path):
    entered = enter_written_exam(demo_server.url)
    session_dir = tmp_path / entered.session_id
    [path] = write_segments(session_dir, entered.session_key, "otherhost", [1000])
    queue = UploadQueue(tmp_path / "q.sqlite3")
    queue.enqueue_segment("gone", "screen", 0, path, "http://127.0.0.1:9/files/")  # first
    SessionUploads(queue, entered.session_id, entered.upload_url, entered.client.api_url,
                   session_dir).enqueue_session_dir()
    waits = []
    worker = UploadWorker(queue, lambda: entered.token)
    worker.worker_did_wait.append(lambda reason, seconds: waits.append((reason, seconds)))
    worker.start()
    deadline = time.monotonic() + 30
    while not waits and time.monotonic() < deadline:
        time.sleep(0.05)
    assert worker.stop(5)
    gone, *mine = queue.items()
    assert gone.state == PENDING and "unreachable" in gone.reason
    assert [i.state for i in mine] == [DONE, DONE]
    assert waits[0][0] == "server_unreachable" and 0 < waits[0][1] <= 1.0
