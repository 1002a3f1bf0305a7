"""A segment's object goes to the store signed with the sha256 the PATCH verified.

Against a real SeaweedFS: the store checks the bytes it receives against that sha256 (a
wrong one is refused and nothing is stored), a put without a known sha256 hashes the bytes
itself, and a connection that drops once is retried as boto3 would.
"""

from __future__ import annotations

import hashlib
import os
import uuid

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError

from tests.server import seaweed
from zhishiyun_server.tus.s3 import S3Storage

pytestmark = pytest.mark.integration
s3, s3_bucket = seaweed.s3, seaweed.s3_bucket  # the fixtures


@pytest.fixture
def store(s3_bucket, monkeypatch):
    for key, value in s3_bucket["env"].items():
        monkeypatch.setenv(key, value)
    return S3Storage(s3_bucket["bucket"], "uploads", sessions=None)


def _stored(s3_bucket, upload_id: str) -> bytes | None:
    try:
        return s3_bucket["client"].get_object(Bucket=s3_bucket["bucket"],
                                              Key=f"uploads/{upload_id}")["Body"].read()
    except ClientError:
        return None


def test_bytes_that_do_not_match_the_known_sha256_are_refused_by_the_store(store, s3_bucket):
    data = os.urandom(300_000)
    refused = uuid.uuid4().hex
    with pytest.raises(ClientError) as caught:
        store.put(refused, data, sha256=hashlib.sha256(b"other bytes").hexdigest())
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert _stored(s3_bucket, refused) is None

    kept, hashed = uuid.uuid4().hex, uuid.uuid4().hex
    store.put(kept, data, sha256=hashlib.sha256(data).hexdigest())
    store.put(hashed, data[:1000])  # no known sha256: hashed here
    assert _stored(s3_bucket, kept) == data
    assert _stored(s3_bucket, hashed) == data[:1000]


def test_a_connection_dropped_once_is_retried(store, s3_bucket, monkeypatch):
    http = store.client._endpoint.http_session
    real, calls = http.send, []

    def drops_first(request):
        calls.append(request.method)
        if len(calls) == 1:
            raise ConnectionClosedError(endpoint_url=request.url)
        return real(request)

    monkeypatch.setattr(http, "send", drops_first)
    data = os.urandom(50_000)
    upload_id = uuid.uuid4().hex
    store.put(upload_id, data, sha256=hashlib.sha256(data).hexdigest())
    assert calls == ["PUT", "PUT"]
    assert _stored(s3_bucket, upload_id) == data
