"""Identity checks with real faces: at entry and at moments only the server knows."""

from __future__ import annotations

import base64
import time

import numpy as np
import pytest
import requests

from tests.exam.conftest import login, shape
from tests.integrity.support import admin, enter_raw, report

faces = pytest.importorskip("tests.face.faces", reason="real test faces need skimage, "
                            "matplotlib and dlib")


def b64(rgb: np.ndarray) -> str:
    return base64.b64encode(faces.jpeg(rgb)).decode("ascii")


def no_face() -> np.ndarray:
    """A 640×480 picture of an empty room corner: gradients and a lamp, no one there."""
    y, x = np.mgrid[0:480, 0:640]
    picture = np.stack([80 + x / 8, 90 + y / 10, 100 + (x + y) / 20], axis=2)
    picture[100:160, 480:540] = 240
    return picture.clip(0, 255).astype(np.uint8)


@pytest.fixture
def server(server_factory):
    return server_factory(demo=True)  # 张三's enrolled photo is the astronaut's face


@pytest.fixture
def exam(server):
    exam_id = shape(server, "written", start_in=0, duration_s=600)
    # The client's default read timeout: comparing faces takes a busy CI server seconds
    client = login(server.url, read_timeout=20.0)
    client.accept(exam_id)
    return client, exam_id


def test_entry_with_no_face_and_with_another_person_are_reported(server, exam):
    client, exam_id = exam
    reply = enter_raw(server, client, exam_id, {"frame_jpeg": b64(no_face())})
    assert reply.status_code == 200, reply.text  # the default only reports
    session_id = reply.json()["session_id"]
    reply = enter_raw(server, client, exam_id,
                      {"frame_jpeg": b64(faces.portrait("grace_hopper"))})
    assert reply.status_code == 200, reply.text  # entering again: the same session
    reply = enter_raw(server, client, exam_id, {"frame_jpeg": b64(faces.portrait("astronaut"))})

    summary = report(server, session_id)
    assert [c["result"] for c in summary["identity_checks"]] == ["no_face", "mismatch", "match"]
    assert summary["identity_overdue"] is False  # the next random check is not due yet
    assert {c["moment"] for c in summary["identity_checks"]} == {"entry"}
    severe = [e for e in summary["events"]["severe"] if e["kind"] == "identity_check"]
    assert [e["details"]["result"] for e in severe] == ["mismatch"]


def test_an_exam_that_refuses_a_mismatch_at_entry(server, exam):
    client, exam_id = exam
    assert admin(server, "integrity", "--exam", str(exam_id), "--identity-at-entry",
                 "refuse").returncode == 0
    reply = enter_raw(server, client, exam_id,
                      {"frame_jpeg": b64(faces.portrait("grace_hopper"))})
    assert reply.status_code == 403
    assert reply.json()["error"]["code"] == "identity_mismatch"
    assert enter_raw(server, client, exam_id, None).json()["error"]["code"] == \
        "identity_frame_required"
    reply = enter_raw(server, client, exam_id, {"frame_jpeg": b64(faces.portrait("astronaut"))})
    assert reply.status_code == 200, reply.text


def test_random_checks_come_when_the_server_asks_and_a_stranger_is_severe(server, exam):
    client, exam_id = exam
    assert admin(server, "integrity", "--identity-interval", "2").returncode == 0
    session_id = client.enter(exam_id).session_id
    url = f"{server.url}/api/v1/sessions/{session_id}/identity"
    early = requests.post(url, json={"frame_jpeg": b64(faces.portrait("astronaut"))},
                          headers=client.auth_headers(), timeout=10)
    if early.status_code != 409:  # drawn due at once is possible, but then 0.6 s had passed
        assert early.status_code == 200
    results = []
    for picture in (faces.portrait("grace_hopper"), no_face()):
        deadline = time.monotonic() + 10
        while not client.identity_wanted(session_id):
            assert time.monotonic() < deadline, "the server never asked for a frame"
            time.sleep(0.2)
        results.append(client.send_identity_frame(session_id, b64(picture)))
    assert results == ["mismatch", "no_face"]
    summary = report(server, session_id)
    random_checks = [c["result"] for c in summary["identity_checks"] if c["moment"] == "random"]
    assert random_checks[-2:] == ["mismatch", "no_face"]
    assert any(e["kind"] == "identity_check" and e["details"]["result"] == "mismatch"
               for e in summary["events"]["severe"])


def test_a_check_asked_for_and_never_answered_is_overdue_then_no_frame(server, exam):
    from datetime import datetime, timedelta, timezone

    from tests.exam.conftest import server_db
    from zhishiyun_server.integrity.models import SessionIntegrity

    client, exam_id = exam
    session_id = client.enter(exam_id).session_id
    with server_db(server)() as db:  # the server asked ten minutes ago; nobody answered
        row = db.get(SessionIntegrity, session_id)
        row.identity_due_at = datetime.now(timezone.utc) - timedelta(minutes=10)
        db.commit()
    assert report(server, session_id)["identity_overdue"] is True
    assert client.identity_wanted(session_id) is False  # too late now: noted, rescheduled
    summary = report(server, session_id)
    assert [c["result"] for c in summary["identity_checks"]] == ["no_frame"]
    assert summary["identity_overdue"] is False
