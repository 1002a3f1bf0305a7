"""Evidence cannot be destroyed through the tus endpoint (real server over HTTP)."""

from __future__ import annotations

import hashlib
import os
import time

import pytest
import requests

from tests.server.hardening import TUS, Inside, enter, tus_create, tus_patch, upload
from tests.server.support import db_session, running_server


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with running_server(tmp_path_factory) as server:
        yield server


@pytest.fixture
def inside(served) -> Inside:
    return enter(served.url)


def stored_files(server) -> set[str]:
    return {p.name for p in (server.data_dir / "uploads").glob("*.bin")}


def segment_row(server, session_id: str, track: str, seq: int):
    from sqlalchemy import select

    from zhishiyun_server.models import RecordingSegment

    engine, db = db_session(server.db_url)
    try:
        return db.scalar(select(RecordingSegment).where(
            RecordingSegment.session_id == session_id, RecordingSegment.track == track,
            RecordingSegment.seq == seq))
    finally:
        db.close()
        engine.dispose()


def test_a_completed_segment_cannot_be_terminated_and_its_bytes_stay(served, inside):
    data = os.urandom(4000)
    done = upload(inside, data, seq=11, track="camera")
    assert done.status_code == 204
    url = f"{inside.url}{done.location}"
    resp = requests.delete(url, headers={**TUS, **inside.auth}, timeout=30)
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "upload_complete"
    path = served.data_dir / "uploads" / f"{done.location.rsplit('/', 1)[1]}.bin"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()
    row = segment_row(served, inside.session_id, "camera", 11)
    assert row.sha256 == hashlib.sha256(data).hexdigest()
    tracks = inside.api("GET", f"/sessions/{inside.session_id}/recordings").json()["tracks"]
    assert 11 in tracks["camera"]["received"]


def test_an_unfinished_upload_may_still_be_terminated(inside):
    created = tus_create(inside, 100, seq="12", track="camera")
    url = f"{inside.url}{created.headers['Location']}"
    assert requests.delete(url, headers={**TUS, **inside.auth}, timeout=30).status_code == 204


def test_a_second_upload_of_a_seq_keeps_the_first_and_is_recorded(served, inside):
    first, other = os.urandom(3000), os.urandom(3000)
    assert upload(inside, first, seq=21).status_code == 204
    again = upload(inside, other, seq=21)
    assert again.status_code == 409 and again.json()["error"]["code"] == "segment_exists"
    assert upload(inside, first, seq=21).status_code == 204  # a retry of the same bytes
    row = segment_row(served, inside.session_id, "screen", 21)
    assert row.sha256 == hashlib.sha256(first).hexdigest()
    from sqlalchemy import select

    from zhishiyun_server.models import Event

    engine, db = db_session(served.db_url)
    try:
        events = db.scalars(select(Event).where(Event.session_id == inside.session_id,
                                                Event.kind == "segment_reupload")).all()
        assert {e.details["same_content"] for e in events} == {False, True}
        assert {e.details["sha256"] for e in events} == {hashlib.sha256(other).hexdigest(),
                                                          hashlib.sha256(first).hexdigest()}
    finally:
        db.close()
        engine.dispose()
    assert row.storage_key + ".bin" in stored_files(served)


def test_bytes_rejected_by_their_checksum_are_removed(served, inside):
    data = os.urandom(2000)
    created = tus_create(inside, len(data), seq="31", sha256=hashlib.sha256(b"x").hexdigest())
    location = created.headers["Location"]
    resp = tus_patch(inside, location, 0, data)
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "sha256_mismatch"
    assert location.rsplit("/", 1)[1] + ".bin" not in stored_files(served)


def test_unfinished_uploads_count_against_the_session_budget_by_declared_length(inside):
    limit = requests.get(f"{inside.url}/api/v1/config", timeout=30).json()["upload"]
    per_upload, budget = limit["max_upload_bytes"], limit["max_session_bytes"]
    made = 0
    for seq in range(1000, 1000 + budget // per_upload + 2):
        resp = tus_create(inside, per_upload, seq=str(seq), track="screen2")
        if resp.status_code != 201:
            break
        made += 1
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "session_too_large"
    assert made * per_upload <= budget


def test_an_unfinished_upload_expires_from_its_creation_even_while_written(tmp_path_factory):
    env = {"ZHISHIYUN_SERVER_UPLOAD_EXPIRY_S": "3"}
    with running_server(tmp_path_factory, env=env) as server:
        inside = enter(server.url)
        created = tus_create(inside, 10, seq="1")
        location = created.headers["Location"]
        for offset in range(4):  # a byte a second renews nothing
            time.sleep(1)
            resp = tus_patch(inside, location, offset, b"x")
            if resp.status_code != 204:
                break
        assert resp.status_code in (404, 410), resp.text
