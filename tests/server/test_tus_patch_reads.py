"""A PATCH reads its upload once, with the lease, and a stale first read never writes.

The process that created an upload (or wrote its last chunk) starts the next PATCH from
what it remembers, and the read that decides comes with the writer lease: on S3 storage
the info row is returned by the lease's own ``UPDATE``. Two real server processes on one
PostgreSQL and one SeaweedFS bucket show that what one process remembers cannot hide what
the other did: an offset moved elsewhere answers 409 with the current offset (the bytes
stay right), and an upload terminated elsewhere answers 404.
"""

from __future__ import annotations

import base64
import hashlib
import os

import pytest
import requests
from sqlalchemy import event

from tests.server.test_multiprocess import pair  # noqa: F401 - the fixture
from tests.server.test_tus_transactions import s3, s3_bucket, served_on_s3  # noqa: F401
from tests.upload.conftest import enter_written_exam

pytestmark = pytest.mark.integration
TUS = {"Tus-Resumable": "1.0.0"}
MIB = 1 << 20


def _create(base: str, entered, data: bytes, seq: int = 0) -> str:
    meta = {"session_id": entered.session_id, "track": "screen", "seq": str(seq),
            "sha256": hashlib.sha256(data).hexdigest()}
    created = requests.post(f"{base}/files/", timeout=10, headers={
        **TUS, **entered.auth, "Upload-Length": str(len(data)), "Upload-Metadata": ",".join(
            f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in meta.items())})
    assert created.status_code == 201, created.text
    return created.headers["Location"]


def _patch(base: str, location: str, entered, offset: int, body: bytes):
    return requests.patch(base + location, data=body, timeout=30, headers={
        **TUS, **entered.auth, "Upload-Offset": str(offset),
        "Content-Type": "application/offset+octet-stream"})


def test_an_offset_moved_through_the_other_process_answers_409_to_the_creator(
        pair, s3_bucket):  # noqa: F811
    first, second = pair
    entered = enter_written_exam(first.url)
    data = os.urandom(2 * MIB + 123)
    location = _create(first.url, entered, data)  # the first process remembers offset 0
    moved = _patch(second.url, location, entered, 0, data[:MIB])
    assert moved.status_code == 204 and moved.headers["Upload-Offset"] == str(MIB)

    stale = _patch(first.url, location, entered, 0, os.urandom(len(data)))
    assert stale.status_code == 409, stale.text
    assert stale.headers["Upload-Offset"] == str(MIB)  # the current offset, for the resume
    done = _patch(first.url, location, entered, MIB, data[MIB:])
    assert done.status_code == 204, done.text
    track = entered.client.recordings(entered.session_id).tracks["screen"]
    assert track.received == [0] and track.bytes == len(data)
    stored = s3_bucket["client"].get_object(
        Bucket=s3_bucket["bucket"], Key=f"uploads/{location.rsplit('/', 1)[1]}")["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == hashlib.sha256(data).hexdigest()


def test_an_upload_terminated_through_the_other_process_answers_404_to_the_creator(
        pair, s3_bucket):  # noqa: F811
    first, second = pair
    entered = enter_written_exam(first.url)
    data = os.urandom(300_000)
    location = _create(first.url, entered, data)
    gone = requests.delete(second.url + location, headers={**TUS, **entered.auth}, timeout=10)
    assert gone.status_code == 204
    late = _patch(first.url, location, entered, 0, data)
    assert late.status_code == 404, late.text
    assert entered.client.recordings(entered.session_id).tracks.get("screen") is None or \
        entered.client.recordings(entered.session_id).tracks["screen"].received == []


def test_a_segment_patch_on_s3_reads_its_info_with_the_lease_only(served_on_s3):  # noqa: F811
    engine = served_on_s3.app.state.engine
    entered = enter_written_exam(served_on_s3.url)
    data = os.urandom(300_000)
    location = _create(served_on_s3.url, entered, data)
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        statements.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        reply = _patch(served_on_s3.url, location, entered, 0, data)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert reply.status_code == 204, reply.text
    # The lease's UPDATE returns the info; the segment, the pending row's end and the
    # final info follow in its transaction. No SELECT of the info before or after it.
    assert [s.split()[0] for s in statements] == ["UPDATE", "INSERT", "DELETE", "UPDATE"], \
        statements
    assert "RETURNING" in statements[0] and "tus_upload_infos" in statements[0]
    assert entered.client.recordings(entered.session_id).tracks["screen"].received == [0]
