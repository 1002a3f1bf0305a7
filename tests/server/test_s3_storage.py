"""Recordings in an S3-compatible store: the real server with ``--storage s3://…`` on SeaweedFS.

A segment sent in chunks under S3's 5 MiB part minimum arrives whole and exact (small
chunks are kept aside and joined to the next one), a one-chunk segment becomes one plain
object (its info is a database row: the bucket gets one request per segment), and a
finished segment can be read from any offset (the review console seeks).
"""

from __future__ import annotations

import hashlib
import os

import pytest
from tusclient.client import TusClient

from tests.server import seaweed
from tests.upload.conftest import enter_written_exam
from zhishiyun_server.tus.s3 import S3Storage

pytestmark = pytest.mark.integration
s3, s3_bucket = seaweed.s3, seaweed.s3_bucket  # the fixtures
MIB = 1024 * 1024


def _server(server_factory, bucket):
    return server_factory(env={**bucket["env"], "ZHISHIYUN_SERVER_STORAGE": bucket["storage"]})


def _upload(entered, path, seq: int, sha256: str, chunk: int) -> str:
    client = TusClient(entered.upload_url, headers=entered.auth)
    uploader = client.uploader(str(path), chunk_size=chunk, metadata={
        "session_id": entered.session_id, "track": "screen", "seq": str(seq),
        "sha256": sha256, "filename": f"{seq:06d}.mp4"})
    uploader.upload()
    return uploader.url.rsplit("/", 1)[1]


def _keys(bucket) -> set[str]:
    listed = bucket["client"].list_objects_v2(Bucket=bucket["bucket"])
    return {item["Key"] for item in listed.get("Contents", [])}


def test_small_chunks_are_joined_into_parts_and_the_segment_is_exact(
        server_factory, s3_bucket, tmp_path):
    server = _server(server_factory, s3_bucket)
    entered = enter_written_exam(server.url)
    data = os.urandom(13 * MIB + 12345)
    path = tmp_path / "000000.mp4"
    path.write_bytes(data)
    sha256 = hashlib.sha256(data).hexdigest()

    upload_id = _upload(entered, path, 0, sha256, chunk=3 * MIB)  # every chunk < 5 MiB

    received = entered.client.recordings(entered.session_id).tracks["screen"]
    assert received.received == [0] and received.bytes == len(data)
    client, bucket = s3_bucket["client"], s3_bucket["bucket"]
    stored = client.get_object(Bucket=bucket, Key=f"uploads/{upload_id}")["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == sha256
    assert f"uploads/{upload_id}.part" not in _keys(s3_bucket)  # nothing left aside
    assert not client.list_multipart_uploads(Bucket=bucket).get("Uploads")

    storage = S3Storage(bucket, "uploads", sessions=None, client=client)
    with storage.open(upload_id) as f:  # a reader that seeks, as a video player does
        f.seek(7 * MIB + 3)
        assert f.read(100_000) == data[7 * MIB + 3:7 * MIB + 3 + 100_000]
        f.seek(-10, os.SEEK_END)
        assert f.read() == data[-10:]


def test_a_one_chunk_segment_is_one_object(server_factory, s3_bucket, tmp_path):
    server = _server(server_factory, s3_bucket)
    entered = enter_written_exam(server.url)
    data = os.urandom(700_000)
    path = tmp_path / "000001.mp4"
    path.write_bytes(data)
    upload_id = _upload(entered, path, 1, hashlib.sha256(data).hexdigest(), chunk=8 * MIB)
    assert {k for k in _keys(s3_bucket) if upload_id in k} == {f"uploads/{upload_id}"}
    head = s3_bucket["client"].head_object(Bucket=s3_bucket["bucket"],
                                           Key=f"uploads/{upload_id}")
    assert head["ContentLength"] == len(data) and "-" not in head["ETag"]  # not multipart
    assert entered.client.recordings(entered.session_id).tracks["screen"].received == [1]


def test_a_one_chunk_segment_costs_the_store_one_request(s3_bucket, tmp_path, monkeypatch):
    from tests.server.scale_app import serve
    from zhishiyun_server.settings import ServerConfig
    from zhishiyun_server.tus.endpoint import app_storage

    for key, value in s3_bucket["env"].items():
        monkeypatch.setenv(key, value)
    config = ServerConfig(data_dir=tmp_path / "data", demo=True, storage=s3_bucket["storage"])
    with serve(config) as served:
        entered = enter_written_exam(served.url)
        requests_made: list[str] = []
        app_storage(served.app).client.meta.events.register(
            "before-call.s3", lambda model, **_: requests_made.append(model.name))
        for seq in range(3):
            data = os.urandom(600_000)
            path = tmp_path / f"{seq:06d}.mp4"
            path.write_bytes(data)
            _upload(entered, path, seq, hashlib.sha256(data).hexdigest(), chunk=8 * MIB)
        # The creation, the PATCH's reads of the offset and the completion touch only the
        # database; the bucket gets each segment's bytes, once.
        assert requests_made == ["PutObject"] * 3
        assert entered.client.recordings(entered.session_id).tracks["screen"].received == \
            [0, 1, 2]


def test_a_second_copy_of_a_seq_leaves_nothing_in_the_bucket(server_factory, s3_bucket,
                                                             tmp_path):
    server = _server(server_factory, s3_bucket)
    entered = enter_written_exam(server.url)
    data = os.urandom(400_000)
    path = tmp_path / "000003.mp4"
    path.write_bytes(data)
    sha256 = hashlib.sha256(data).hexdigest()
    kept = _upload(entered, path, 3, sha256, chunk=MIB)
    again = _upload(entered, path, 3, sha256, chunk=MIB)  # a retry after a lost reply
    assert entered.client.recordings(entered.session_id).tracks["screen"].received == [3]
    keys = _keys(s3_bucket)
    assert f"uploads/{kept}" in keys
    assert not {k for k in keys if again in k}  # the copy's object and info are gone


@pytest.mark.parametrize(("size", "chunk"), [(7 * MIB + 5, 3 * MIB), (300_000, MIB)],
                         ids=["in-parts", "one-chunk"])
def test_a_completion_that_fails_on_s3_is_done_again_by_the_resume(s3_bucket, tmp_path,
                                                                    monkeypatch, size, chunk):
    from sqlalchemy.exc import OperationalError
    from tusclient.exceptions import TusCommunicationError

    from tests.server.scale_app import serve
    from zhishiyun_server.settings import ServerConfig
    from zhishiyun_server.tus.endpoint import ExamUploadHooks

    for key, value in s3_bucket["env"].items():
        monkeypatch.setenv(key, value)
    real, calls = ExamUploadHooks.on_complete, []

    def fails_once(self, principal, info, storage, lease=None):
        calls.append(info.id)
        if len(calls) == 1:  # the segment is in the bucket; recording it fails
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        return real(self, principal, info, storage, lease)

    monkeypatch.setattr(ExamUploadHooks, "on_complete", fails_once)
    config = ServerConfig(data_dir=tmp_path / "data", demo=True, storage=s3_bucket["storage"])
    with serve(config) as served:
        entered = enter_written_exam(served.url)
        data = os.urandom(size)
        path = tmp_path / "000002.mp4"
        path.write_bytes(data)
        sha256 = hashlib.sha256(data).hexdigest()
        client = TusClient(entered.upload_url, headers=entered.auth)
        meta = {"session_id": entered.session_id, "track": "screen", "seq": "2",
                "sha256": sha256}
        first = client.uploader(str(path), chunk_size=chunk, metadata=meta, retries=0)
        with pytest.raises(TusCommunicationError):
            first.upload()
        assert first.get_offset() < len(data)  # not called complete while unrecorded
        client.uploader(str(path), url=first.url, chunk_size=chunk, metadata=meta).upload()
        track = entered.client.recordings(entered.session_id).tracks["screen"]
        assert track.received == [2] and track.bytes == len(data)
        upload_id = first.url.rsplit("/", 1)[1]
        stored = s3_bucket["client"].get_object(Bucket=s3_bucket["bucket"],
                                                Key=f"uploads/{upload_id}")["Body"].read()
        assert hashlib.sha256(stored).hexdigest() == sha256 and len(calls) == 2
