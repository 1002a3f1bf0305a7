"""Uploads in an S3-compatible object store (``--storage s3://bucket/prefix``), via boto3.

Layout under ``prefix`` (the way tusd's S3 store keeps it):

- ``<id>`` — the finished segment, one object (range reads serve the review console);
- while unfinished: an S3 multipart upload whose parts are the committed chunks; a chunk
  under S3's 5 MiB part minimum is kept aside as ``<id>.part`` and joined to the next
  chunk, and an upload that completes within one chunk (the usual segment) is simply one
  ``put_object``.

The upload's :class:`UploadInfo` (offset, metadata, multipart state) is a database row
(:mod:`zhishiyun_server.tus.infos`), not an object: every process shares the database
anyway, and a row costs far less CPU than an object request. A one-chunk segment thus
costs the store one request, its ``put_object``.

A chunk is buffered (memory, then a temporary file) while its PATCH streams, verified, and
only then sent to the store, so a failed checksum never reaches it. The writer lock is the
database lease of :class:`~zhishiyun_server.tus.shared.LeasedWrites`, so any number of
server machines can share one bucket. Endpoint and credentials come from boto3's own
environment (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_DEFAULT_REGION``) or its other standard sources.
"""

from __future__ import annotations

import io
import logging
import tempfile
import threading
import time
import uuid
from dataclasses import asdict
from typing import Any, BinaryIO

from sqlalchemy.orm import Session, sessionmaker

from zhishiyun_server.tus import infos
from zhishiyun_server.tus.infos import InfoTable
from zhishiyun_server.tus.pending import UNREAD
from zhishiyun_server.tus.shared import LeasedWrites, Leases
from zhishiyun_server.tus.storage import (
    UPLOAD_ID,
    ChunkWriter,
    OnLast,
    UploadInfo,
    UploadStorage,
)

log = logging.getLogger(__name__)

#: S3's smallest part (all but the last part of a multipart upload).
MIN_PART = 5 * 1024 * 1024
#: Chunk bytes kept in memory before the buffer moves to a temporary file.
SPOOL = 8 * 1024 * 1024


def _missing(exc: Exception) -> bool:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
    return code in ("NoSuchKey", "404", "NotFound", "NoSuchUpload")


class _RangeReader(io.RawIOBase):
    """A finished object read with ranged GETs (seekable: a video player can jump)."""

    def __init__(self, client: Any, bucket: str, key: str, size: int) -> None:
        self._client, self._bucket, self._key, self._size, self._pos = client, bucket, key, \
            size, 0

    def readable(self) -> bool:  # noqa: D102
        return True

    def seekable(self) -> bool:  # noqa: D102
        return True

    def tell(self) -> int:  # noqa: D102
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:  # noqa: D102
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer) -> int:  # noqa: D102
        if self._pos >= self._size or not len(buffer):
            return 0
        end = min(self._size, self._pos + len(buffer)) - 1
        body = self._client.get_object(Bucket=self._bucket, Key=self._key,
                                       Range=f"bytes={self._pos}-{end}")["Body"].read()
        buffer[:len(body)] = body
        self._pos += len(body)
        return len(body)


class _S3ChunkWriter(ChunkWriter):
    def __init__(self, storage: S3Storage, info: UploadInfo) -> None:
        self._storage, self._info = storage, info
        self._buffer = tempfile.SpooledTemporaryFile(SPOOL)  # noqa: SIM115 - closed below
        self._written = 0

    def write(self, data: bytes) -> None:
        self._buffer.write(data)
        self._written += len(data)

    def commit(self, on_last: OnLast | None = None) -> int:
        info, store = self._info, self._storage
        end = info.offset + self._written
        last = end >= info.length
        state = dict(info.extra)
        try:
            self._buffer.seek(0)
            chunk = self._buffer.read()
        finally:
            self._buffer.close()
        if state.get("final"):  # an earlier try finished the object; its completion failed
            chunk = store.read_range(info.id, 0, info.offset) + chunk
            store.put(info.id, chunk)
        else:
            if state.get("pending"):
                chunk = store.get_bytes(store.key(info.id, ".part")) + chunk
            if last and not state.get("multipart"):
                store.put(info.id, chunk)
            elif last or len(chunk) >= MIN_PART:
                state = store.add_part(info.id, state, chunk)
                if last:
                    store.complete(info.id, state)
            else:
                store.put(info.id, chunk, suffix=".part")
                state["pending"] = len(chunk)
            if state.get("pending") and (last or len(chunk) >= MIN_PART):
                state.pop("pending")
                store.remove(store.key(info.id, ".part"))
        whole = last and info.offset == 0 and not state.get("multipart")
        if last:
            state = {"final": True}
        done = UploadInfo(**{**asdict(info), "offset": end, "extra": state})
        if last:
            done.completed_at = time.time()
            if not whole:  # the parts are gone into the object: a retry must know it
                store.save(UploadInfo(**{**asdict(done), "offset": info.offset}))
            store.removed.ids = set()
            published = []

            def publish(conn) -> None:  # in the recording's transaction, when it has one
                store.infos.save_on(conn, done)
                published.append(done.id)

            try:
                if on_last is not None:
                    on_last(done, publish)  # raises: the offset stays where it was
            finally:
                removed, store.removed.ids = store.removed.ids, None
            if done.id in removed:
                return end  # the completion removed the upload (a duplicate copy)
        if not (last and published):
            store.save(done)
        info.offset, info.completed_at, info.extra = end, done.completed_at, state
        return end

    def discard(self) -> None:
        self._buffer.close()  # nothing reached the store before commit


class S3Storage(LeasedWrites, UploadStorage):
    """Uploads in ``bucket`` under ``prefix`` (see the module docstring)."""

    #: Reads go over the network: the endpoint calls ``get`` off the event loop.
    remote = True

    def __init__(self, bucket: str, prefix: str, sessions: sessionmaker[Session],
                 client: Any | None = None) -> None:
        if client is None:
            import boto3
            from botocore.config import Config

            # Requests are built by this module only: boto3's validation of every request's
            # parameters and its checksums of every body (the store checks Content-MD5
            # when it wants; the bytes were verified against the client's sha256) cost
            # CPU on each request. One pooled connection per worker thread.
            client = boto3.client("s3", config=Config(
                s3={"addressing_style": "path"}, max_pool_connections=64,
                parameter_validation=False, request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                retries={"max_attempts": 4, "mode": "standard"}))
        self.client, self.bucket = client, bucket
        self.prefix = prefix.strip("/")
        self.leases = Leases(sessions, read=infos.WITH_LEASE)  # the info comes with the lease
        self.infos = InfoTable(sessions)
        #: Uploads deleted by this thread's completion callback (``ids`` is None outside
        #: one): the commit then knows without asking the store.
        self.removed = threading.local()

    def key(self, upload_id: str, suffix: str = "") -> str:
        """The object key of ``upload_id`` (+ ``.part``)."""
        if not UPLOAD_ID.match(upload_id):
            raise ValueError("bad upload id")
        return f"{self.prefix}/{upload_id}{suffix}" if self.prefix else upload_id + suffix

    # --- objects -----------------------------------------------------------------------
    def put(self, upload_id: str, data: bytes, suffix: str = "") -> None:
        """Store ``data`` as the upload's object (or its ``suffix`` sibling)."""
        self.client.put_object(Bucket=self.bucket, Key=self.key(upload_id, suffix), Body=data)

    def get_bytes(self, key: str) -> bytes:
        """A whole (small) object."""
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def read_range(self, upload_id: str, start: int, stop: int) -> bytes:
        """Bytes ``[start, stop)`` of the finished object."""
        if stop <= start:
            return b""
        return self.client.get_object(Bucket=self.bucket, Key=self.key(upload_id),
                                      Range=f"bytes={start}-{stop - 1}")["Body"].read()

    def remove(self, key: str) -> None:
        """Delete one object (gone already is fine)."""
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def add_part(self, upload_id: str, state: dict, data: bytes) -> dict:
        """Send ``data`` as the next multipart part; the new multipart state."""
        state = dict(state)
        if not state.get("multipart"):
            state["multipart"] = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=self.key(upload_id))["UploadId"]
            state["parts"] = []
        number = len(state["parts"]) + 1
        etag = self.client.upload_part(Bucket=self.bucket, Key=self.key(upload_id),
                                       UploadId=state["multipart"], PartNumber=number,
                                       Body=data)["ETag"]
        state["parts"] = [*state["parts"], {"PartNumber": number, "ETag": etag}]
        return state

    def complete(self, upload_id: str, state: dict) -> None:
        """Join the parts into the finished object."""
        self.client.complete_multipart_upload(
            Bucket=self.bucket, Key=self.key(upload_id), UploadId=state["multipart"],
            MultipartUpload={"Parts": state["parts"]})

    # --- UploadStorage -----------------------------------------------------------------
    def create(self, length, metadata, owner, expires_at) -> UploadInfo:  # noqa: D102
        info = UploadInfo(id=uuid.uuid4().hex, length=length, metadata=dict(metadata),
                          owner=owner, expires_at=expires_at,
                          expiry_window_s=max(0.0, expires_at - time.time()) if expires_at
                          else 0.0)
        self.infos.add(info)
        return info

    def get(self, upload_id: str) -> UploadInfo | None:  # noqa: D102
        if not UPLOAD_ID.match(upload_id):
            return None
        return self.infos.get(upload_id)

    def info_with_lease(self, upload_id: str, read: object) -> UploadInfo | None:
        """The info row the lease statement read (one statement, not two)."""
        return self.get(upload_id) if read is UNREAD else infos.load(read)

    def save(self, info: UploadInfo) -> None:  # noqa: D102
        self.infos.save(info)

    def writer(self, info: UploadInfo) -> ChunkWriter:  # noqa: D102
        return _S3ChunkWriter(self, info)

    def open(self, upload_id: str) -> BinaryIO:  # noqa: D102
        head = self.client.head_object(Bucket=self.bucket, Key=self.key(upload_id))
        raw = _RangeReader(self.client, self.bucket, self.key(upload_id),
                           int(head["ContentLength"]))
        return io.BufferedReader(raw, buffer_size=1 << 20)

    def delete(self, upload_id: str) -> None:  # noqa: D102
        info = self.get(upload_id)
        multipart = (info.extra.get("multipart") if info else None)
        if multipart:
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key(upload_id),
                                                   UploadId=multipart)
            except Exception as exc:  # noqa: BLE001
                if not _missing(exc):
                    raise
        if info is None or info.extra.get("pending"):
            self.remove(self.key(upload_id, ".part"))
        self.remove(self.key(upload_id))
        self.infos.remove(upload_id)
        if getattr(self.removed, "ids", None) is not None:
            self.removed.ids.add(upload_id)

    def ids(self) -> list[str]:  # noqa: D102
        return self.infos.ids()


def storage_from_url(url: str, sessions: sessionmaker[Session]) -> S3Storage:
    """``s3://bucket/prefix`` → an :class:`S3Storage` (credentials from the environment)."""
    rest = url[len("s3://"):]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise ValueError(f"no bucket in {url!r} (s3://bucket/prefix)")
    return S3Storage(bucket, prefix or "uploads", sessions)
