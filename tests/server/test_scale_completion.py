"""No silent loss after the last byte: a segment counts as uploaded only once it is recorded.

The real app (SQLite, local disk) served by uvicorn on 127.0.0.1 in this process, so that a
failure can be injected at the worst moment: after the last byte of a segment arrived. The
client is tuspy, the library the desktop client uploads with; its resume must end with the
segment in the session's recordings, exactly once, with the right bytes.
"""

from __future__ import annotations

import hashlib
import os

import pytest
import requests
from sqlalchemy.exc import OperationalError
from tusclient.client import TusClient
from tusclient.exceptions import TusCommunicationError

from tests.server import scale_app
from tests.upload.conftest import enter_written_exam
from zhishiyun_server.tus import storage as tus_storage
from zhishiyun_server.tus.endpoint import ExamUploadHooks

pytestmark = pytest.mark.integration
served_app, app_url = scale_app.served_app, scale_app.app_url  # the fixtures
TUS = {"Tus-Resumable": "1.0.0"}


def _segment(tmp_path, size: int = 300_000):
    data = os.urandom(size)
    path = tmp_path / "000000.mp4"
    path.write_bytes(data)
    return path, data, hashlib.sha256(data).hexdigest()


def _uploader(entered, path, sha256: str, url: str | None = None):
    client = TusClient(entered.upload_url, headers=entered.auth)
    return client.uploader(str(path), url=url, chunk_size=1 << 20, retries=0, metadata={
        "session_id": entered.session_id, "track": "screen", "seq": "0", "sha256": sha256,
        "filename": "000000.mp4"})


def _received(url: str, entered) -> dict:
    resp = requests.get(f"{url}/api/v1/sessions/{entered.session_id}/recordings",
                        headers=entered.auth, timeout=10)
    resp.raise_for_status()
    return resp.json()["tracks"].get("screen", {})


def _offset(upload_url: str, entered) -> tuple[int, int]:
    resp = requests.head(upload_url, headers={**TUS, **entered.auth}, timeout=10)
    return int(resp.headers["Upload-Offset"]), int(resp.headers["Upload-Length"])


def test_recording_that_fails_after_the_last_byte_leaves_the_upload_unfinished(
        app_url, tmp_path, monkeypatch):
    entered = enter_written_exam(app_url)
    path, data, sha256 = _segment(tmp_path)
    real = ExamUploadHooks.on_complete
    calls = []

    def database_gone_once(self, principal, info, storage, lease=None):
        calls.append(info.id)
        if len(calls) == 1:  # the database fails just as the segment is to be recorded
            raise OperationalError("INSERT INTO recording_segments", {},
                                   Exception("database is locked"))
        return real(self, principal, info, storage, lease)

    monkeypatch.setattr(ExamUploadHooks, "on_complete", database_gone_once)
    first = _uploader(entered, path, sha256)
    with pytest.raises(TusCommunicationError) as failed:
        first.upload()
    assert failed.value.status_code == 503  # busy, retry: not a 500

    offset, length = _offset(first.url, entered)
    assert offset < length  # HEAD does not call an unrecorded segment complete
    assert 0 not in _received(app_url, entered).get("received", [])

    _uploader(entered, path, sha256, url=first.url).upload()  # the client's resume
    assert _offset(first.url, entered) == (length, length)
    track = _received(app_url, entered)
    assert track["received"] == [0] and track["bytes"] == len(data)
    assert len(calls) == 2


def _crash_once_when_marking_complete(monkeypatch) -> list[str]:
    """The first upload marked complete fails there (recorded already; its offset not yet
    published); returns the ids it failed for."""
    real_mark = tus_storage.LocalDiskStorage._mark_complete
    crashed: list[str] = []

    def crash_on_marking_complete(self, upload_id):
        if not crashed:
            crashed.append(upload_id)
            raise OSError(5, "Input/output error")
        return real_mark(self, upload_id)

    monkeypatch.setattr(tus_storage.LocalDiskStorage, "_mark_complete",
                        crash_on_marking_complete)
    return crashed


def test_a_crash_between_recording_and_publishing_the_offset_records_once(
        app_url, tmp_path, monkeypatch):
    entered = enter_written_exam(app_url)
    path, data, sha256 = _segment(tmp_path)
    crashed = _crash_once_when_marking_complete(monkeypatch)
    first = _uploader(entered, path, sha256)
    with pytest.raises(TusCommunicationError):
        first.upload()
    assert crashed and _offset(first.url, entered)[0] < len(data)

    _uploader(entered, path, sha256, url=first.url).upload()
    track = _received(app_url, entered)
    assert track["received"] == [0] and track["bytes"] == len(data)
    # The recorded bytes are the segment's, and the resent chunk did not count twice.
    from zhishiyun_server.tus.storage import LocalDiskStorage

    stored = LocalDiskStorage(tmp_path / "data" / "uploads")
    with stored.open(first.url.rsplit("/", 1)[1]) as f:
        assert hashlib.sha256(f.read()).hexdigest() == sha256


def test_a_recorded_upload_whose_offset_was_lost_never_takes_other_bytes(
        app_url, tmp_path, monkeypatch):
    entered = enter_written_exam(app_url)
    path, data, sha256 = _segment(tmp_path)
    _crash_once_when_marking_complete(monkeypatch)
    first = _uploader(entered, path, sha256)
    with pytest.raises(TusCommunicationError):
        first.upload()
    assert _offset(first.url, entered)[0] == 0  # recorded, but the offset was not saved

    other = os.urandom(len(data))  # a buggy or hostile resend of the last chunk
    resp = requests.patch(first.url, data=other, timeout=10, headers={
        **TUS, **entered.auth, "Upload-Offset": "0",
        "Content-Type": "application/offset+octet-stream"})
    assert resp.status_code == 204 and resp.headers["Upload-Offset"] == str(len(data))
    assert _offset(first.url, entered) == (len(data), len(data))
    from zhishiyun_server.tus.storage import LocalDiskStorage

    with LocalDiskStorage(tmp_path / "data" / "uploads").open(first.url.rsplit("/", 1)[1]) as f:
        assert hashlib.sha256(f.read()).hexdigest() == sha256  # the recorded bytes stay
    assert _received(app_url, entered)["received"] == [0]


def test_a_one_chunk_segment_writes_its_upload_info_once(app_url, tmp_path, monkeypatch):
    entered = enter_written_exam(app_url)
    path, data, sha256 = _segment(tmp_path)
    written = []
    real_write = tus_storage._write_atomic

    def counted(target, payload, sync=True):
        written.append(target.name)
        return real_write(target, payload, sync)

    monkeypatch.setattr(tus_storage, "_write_atomic", counted)
    uploader = _uploader(entered, path, sha256)
    uploader.upload()
    upload_id = uploader.url.rsplit("/", 1)[1]
    assert written == [f"{upload_id}.json"]  # at the creation; the completion wrote none
    assert _offset(uploader.url, entered) == (len(data), len(data))
    assert _received(app_url, entered)["received"] == [0]
    resp = requests.patch(uploader.url, data=b"", timeout=10, headers={  # a late retry
        **TUS, **entered.auth, "Upload-Offset": str(len(data)),
        "Content-Type": "application/offset+octet-stream"})
    assert resp.status_code == 204 and resp.headers["Upload-Offset"] == str(len(data))
