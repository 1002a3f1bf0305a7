"""A real exam session (ExamSession on the demo server, real devices) with integrity on."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from tests.exam.conftest import login, shape
from tests.integrity.support import admin, enter_raw, report
from zhishiyun.config import IntegritySettings
from zhishiyun.exam.guard import EntryRefused
from zhishiyun.exam.runtime import ExamRuntime
from zhishiyun.exam.session import State

pytest_plugins = ["tests.exam.conftest"]


def wait_for(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def forbidden_program(tmp_path):
    """A harmless program whose process name is on the default prohibited list."""
    path = tmp_path / "Telegram"
    shutil.copy(shutil.which("sleep"), path)
    processes = []

    def start():
        processes.append(subprocess.Popen([str(path), "300"]))
        return processes[-1]

    yield start
    for process in processes:
        process.kill()
        process.wait()


def test_a_prohibited_program_started_during_the_exam_is_in_the_session_report(
        server_factory, isolated_home, devices, forbidden_program):
    server = server_factory(demo=True)
    exam_id = shape(server, "written", start_in=0, duration_s=600)
    client = login(server.url)
    client.accept(exam_id)
    runtime = ExamRuntime(client, isolated_home / "data")
    runtime.start()
    banners = []
    try:
        session = runtime.session(
            {"id": exam_id, "kind": "written"}, **devices, guard_options={
                "integrity": IntegritySettings(stand_in_devices=True, prohibited_grace_s=2),
                "watcher_options": {"process_interval_s": 0.5}})
        session.session_did_change.append(
            lambda kind, value: banners.append(value) if kind == "banner" else None)
        session.enter()
        program = forbidden_program()
        wait_for(lambda: any(text and "Telegram" in text for _key, text in banners), 10,
                 "the banner asking to close Telegram")
        time.sleep(3)  # past the grace period
        program.kill()
        program.wait()
        wait_for(lambda: ("prohibited:Telegram", None) in banners, 10, "the banner removed")
        session.finish("candidate_ended")
        wait_for(lambda: session.state == State.DONE, 60, "every upload")
    finally:
        runtime.close()

    summary = report(server, session.session_id)
    assert summary["prohibited_programs"] == ["Telegram"]
    kinds = summary["events"]["by_kind"]
    assert kinds["prohibited_program"] == 1 and kinds["prohibited_program_closed"] == 1
    assert [e["details"]["name"] for e in summary["events"]["severe"]
            if e["kind"] == "prohibited_program_still_running"] == ["Telegram"]
    assert summary["environment"]["events"] == [] or all(
        e["kind"] != "remote_session" for e in summary["environment"]["events"])
    assert "environment" in kinds  # reported when the session started
    assert summary["stand_in_used"] is True  # the demo's video-file camera
    assert "camera_file" in summary["stand_ins"]
    for track in summary["tracks"].values():
        assert track["missing"] == [] and track["unsigned"] == [] and track["chain_ok"]
        assert track["last_seq"] == track["received"] - 1  # the finish named the tail


def test_with_stand_ins_off_entering_is_refused_by_client_and_server(
        server_factory, isolated_home, devices):
    server = server_factory(demo=True)
    assert admin(server, "stand-in-devices", "off").returncode == 0
    exam_id = shape(server, "written", start_in=0, duration_s=600)
    client = login(server.url)
    client.accept(exam_id)
    assert client.config().model_extra["stand_in_devices"] is False
    runtime = ExamRuntime(client, isolated_home / "data")
    try:
        session = runtime.session({"id": exam_id, "kind": "written"}, **devices)
        with pytest.raises(EntryRefused) as refused:
            session.enter()
        assert "camera_file" in refused.value.message and "real camera" in refused.value.message
        assert session.session_id == "" and session.recorder is None
    finally:
        runtime.close()

    # a client that skips its own check is refused by the server
    body = {"devices": {"camera": "clip.mp4", "camera_backend": "file",
                        "stand_ins": ["camera_file"]}}
    reply = enter_raw(server, client, exam_id, body)
    assert reply.status_code == 403, reply.text
    assert reply.json()["error"]["code"] == "stand_in_not_allowed"
    assert not client.exam(exam_id).session_id

    assert admin(server, "stand-in-devices", "on").returncode == 0
    reply = enter_raw(server, client, exam_id, body)
    assert reply.status_code == 200, reply.text
    summary = report(server, reply.json()["session_id"])
    assert summary["stand_in_used"] is True and summary["stand_ins"] == ["camera_file"]
    assert summary["devices"]["camera"] == "clip.mp4"


def client_blocking(server) -> list[str]:
    return login(server.url).config().model_extra["blocking_environment"]


def test_a_blocked_environment_signal_refuses_entry_with_the_reason(server_factory):
    server = server_factory(demo=True)
    assert client_blocking(server) == []  # the demo only reports the environment
    assert admin(server, "integrity", "--blocking-environment",
                 "virtual_camera,remote_session").returncode == 0  # the defaults elsewhere
    assert client_blocking(server) == ["virtual_camera", "remote_session"]
    exam_id = shape(server, "written", start_in=0, duration_s=600)
    client = login(server.url)
    client.accept(exam_id)
    body = {"environment": [{"kind": "remote_session", "severity": "severe",
                             "detail": "SSH_CONNECTION is set"}]}
    reply = enter_raw(server, client, exam_id, body)
    assert reply.status_code == 403
    error = reply.json()["error"]
    assert error["code"] == "environment_blocked" and "SSH_CONNECTION" in error["message"]

    assert admin(server, "integrity", "--exam", str(exam_id), "--blocking-environment",
                 "").returncode == 0  # this exam only reports it
    reply = enter_raw(server, client, exam_id, body)
    assert reply.status_code == 200, reply.text
    summary = report(server, reply.json()["session_id"])
    assert summary["environment"]["at_entry"][0]["kind"] == "remote_session"
