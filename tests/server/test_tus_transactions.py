"""On PostgreSQL a segment's PATCH takes its writer lease and records it in one transaction.

The real app served by uvicorn on 127.0.0.1 in this process on a fresh PostgreSQL
database; the client is tuspy. The usual segment (one chunk) commits once: the lease's
``UPDATE``, the recorded segment, the end of the pending row and (S3 storage) the upload's
final info together. A second copy of
the seq takes the long way (its insert fails inside that transaction) and still ends as the
first copy kept and a ``segment_reupload`` event, with the upload's lease given back.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time

import pytest
import requests
from sqlalchemy import event, select
from tusclient.client import TusClient

from tests.server import scale_app, seaweed
from tests.server.support import fresh_pg_database
from tests.upload.conftest import enter_written_exam
from zhishiyun_server.models import Event
from zhishiyun_server.settings import ServerConfig
from zhishiyun_server.tus.pending import PendingUpload

pytestmark = pytest.mark.integration
TUS = {"Tus-Resumable": "1.0.0"}


s3, s3_bucket = seaweed.s3, seaweed.s3_bucket  # the fixtures


@pytest.fixture
def served_app(tmp_path):
    """The exam server app with demo data on a fresh PostgreSQL database."""
    with fresh_pg_database() as url, scale_app.serve(
            ServerConfig(data_dir=tmp_path / "data", db_url=url, demo=True)) as served:
        yield served


@pytest.fixture
def served_on_s3(tmp_path, s3_bucket, monkeypatch):
    """The same on a fresh PostgreSQL database and a SeaweedFS bucket."""
    for key, value in s3_bucket["env"].items():
        monkeypatch.setenv(key, value)
    with fresh_pg_database() as url, scale_app.serve(ServerConfig(
            data_dir=tmp_path / "data", db_url=url, demo=True,
            storage=s3_bucket["storage"])) as served:
        yield served


def _uploader(entered, path, seq: int, sha256: str):
    client = TusClient(entered.upload_url, headers=entered.auth)
    return client.uploader(str(path), chunk_size=1 << 20, retries=0, metadata={
        "session_id": entered.session_id, "track": "screen", "seq": str(seq),
        "sha256": sha256})


def _segment(tmp_path, seq: int):
    data = os.urandom(300_000)
    path = tmp_path / f"{seq:06d}.mp4"
    path.write_bytes(data)
    return path, data, hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("storage", ["disk", "s3"])
def test_a_one_chunk_segment_is_leased_and_recorded_in_one_commit(storage, request, tmp_path):
    served_app = request.getfixturevalue("served_app" if storage == "disk" else "served_on_s3")
    engine = served_app.app.state.engine
    entered = enter_written_exam(served_app.url)
    path, data, sha256 = _segment(tmp_path, 0)
    uploader = _uploader(entered, path, 0, sha256)
    uploader.set_url(uploader.create_url())  # the creation is not counted
    commits = []

    def counted(_conn):
        commits.append(1)

    event.listen(engine, "commit", counted)
    try:
        uploader.upload()
    finally:
        event.remove(engine, "commit", counted)
    assert len(commits) == 1
    head = requests.head(uploader.url, headers={**TUS, **entered.auth}, timeout=10)
    assert head.headers["Upload-Offset"] == str(len(data))
    assert entered.client.recordings(entered.session_id).tracks["screen"].received == [0]


def test_a_second_copy_takes_the_long_way_and_gives_its_lease_back(served_app, tmp_path):
    engine = served_app.app.state.engine
    entered = enter_written_exam(served_app.url)
    path, data, sha256 = _segment(tmp_path, 4)
    _uploader(entered, path, 4, sha256).upload()
    again = _uploader(entered, path, 4, sha256)  # a retry after a lost reply: same bytes
    again.upload()
    track = entered.client.recordings(entered.session_id).tracks["screen"]
    assert track.received == [4] and track.bytes == len(data)
    with engine.connect() as conn:
        kinds = conn.execute(select(Event.kind).where(
            Event.session_id == entered.session_id)).scalars().all()
        left = conn.execute(select(PendingUpload.upload_id)).scalars().all()
    assert kinds.count("segment_reupload") == 1
    assert left == []  # no upload left holding a lease or a budget


def test_a_holder_that_goes_silent_mid_transaction_frees_the_upload_within_a_lease(
        served_app, tmp_path):
    from zhishiyun_server.tus.shared import LEASE_S, Leases

    entered = enter_written_exam(served_app.url)
    path, _data, sha256 = _segment(tmp_path, 7)
    upload_id = _uploader(entered, path, 7, sha256).create_url().rsplit("/", 1)[1]
    leases = Leases(served_app.app.state.session_factory)
    # Another machine took the lease for its last chunk, then vanished: its connection is
    # still open to PostgreSQL, and no statement will ever come.
    vanished = leases.take_with_completion(upload_id, "a" * 32)
    assert vanished is not None and vanished.taken is True
    result: list = []
    taker = threading.Thread(target=lambda: result.append(leases.try_take(upload_id, "b" * 32)),
                             daemon=True)
    started = time.monotonic()
    taker.start()
    taker.join(LEASE_S + 10)
    assert result == [True]  # PostgreSQL ended the silent transaction; the upload is free
    assert time.monotonic() - started < LEASE_S + 10
    with contextlib.suppress(Exception):  # its session was ended by the server
        vanished.close()
