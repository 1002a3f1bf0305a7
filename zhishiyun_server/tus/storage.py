"""Where tus uploads live: an interface and the single-process local-disk implementation.

The protocol code only talks to :class:`UploadStorage`. An upload is an id chosen by the
server (never a name from the client), its :class:`UploadInfo` and its bytes. Writes come in
as a :class:`ChunkWriter`: bytes are written at the current offset and only count once
``commit()`` returns; ``discard()`` forgets them, so a PATCH whose checksum fails leaves the
offset where it was.

Completion: the commit of the last chunk calls the ``on_last`` callback after the bytes are
durable and *before* the final offset becomes visible. When the callback raises, the offset
stays where it was, so HEAD never reports an upload complete that the application has not
recorded: the client re-sends the last chunk and the completion runs again.

:class:`LocalDiskStorage` keeps each upload's info as a JSON file beside its bytes; alone it
is for one process (the tus router on its own, tests). The exam server uses
:class:`zhishiyun_server.tus.shared.SharedDiskStorage` (the same files plus a writer lease
in the database, for ``--workers``) or :class:`zhishiyun_server.tus.s3.S3Storage` (info and
bytes in an object store, the lease in the database, for several machines).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import json
import os
import re
import stat
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from zhishiyun_server.tus.errors import TusError

UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass
class UploadInfo:
    """What the server knows about one upload."""

    id: str
    length: int
    offset: int = 0
    metadata: dict[str, str] = field(default_factory=dict)
    owner: str = ""
    created_at: float = field(default_factory=time.time)
    expires_at: float = 0.0
    #: Seconds an unfinished upload lives after its last write (0: forever).
    expiry_window_s: float = 0.0
    completed_at: float | None = None
    #: sha256 (hex) of the whole upload when it was hashed on the way in (one-chunk uploads).
    file_sha256: str = ""
    #: What the storage itself needs to remember (e.g. S3 multipart state).
    extra: dict = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """True once every byte has arrived."""
        return self.offset >= self.length


#: Called by the commit of an upload's last chunk: ``on_last(info, publish)``. ``publish``
#: is None, or what the storage would write to make the final offset visible, as
#: ``publish(connection)``: it may run in the transaction that records the completion
#: (and commit with it); if it did not run, the storage publishes the offset itself.
OnLast = Callable[[UploadInfo, Any], None]

#: Seconds a request waits for another one writing the same upload before 423.
LOCK_WAIT_S = 10.0


class Writers:
    """One writer per upload at a time, within this process (:class:`LocalDiskStorage`).

    A resumed client can arrive while the server still handles its cut-off request; both
    writing at one offset would corrupt the file.
    """

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @contextlib.asynccontextmanager
    async def hold(self, upload_id: str) -> AsyncIterator[bool]:
        """Hold ``upload_id`` for one request (423 after ``LOCK_WAIT_S`` of waiting).

        Yields whether it had to wait: if not, nothing else of this process ran in
        between, so what the caller read just before is still current.
        """
        lock = self._locks.setdefault(upload_id, asyncio.Lock())
        self._users[upload_id] = self._users.get(upload_id, 0) + 1
        try:
            deadline = time.monotonic() + LOCK_WAIT_S
            waited = False
            while lock.locked():  # polled: no cancellation races around acquire()
                if time.monotonic() > deadline:
                    raise TusError(423, "upload_busy",
                                   "another request is still writing this upload; retry")
                waited = True
                await asyncio.sleep(0.02)
            await lock.acquire()  # free and no waiters: returns without suspending
            try:
                yield waited
            finally:
                lock.release()
        finally:
            self._users[upload_id] -= 1
            if not self._users[upload_id]:
                del self._users[upload_id], self._locks[upload_id]


class ChunkWriter(abc.ABC):
    """Bytes of one PATCH, written at the upload's offset; nothing counts before commit.

    Durability: a process crash never loses committed bytes; the commit that completes an
    upload is also fsynced (the client forgets the upload after it). Intermediate chunks are
    not fsynced one by one (as in tusd and ``@tus/file-store``): after a power cut the
    offset falls back to what is on disk and the client resumes from there.
    """

    @abc.abstractmethod
    def write(self, data: bytes) -> None:
        """Append ``data`` after what this writer already wrote."""

    @abc.abstractmethod
    def commit(self, on_last: OnLast | None = None) -> int:
        """Make the written bytes part of the upload; return the new offset.

        For the last chunk, ``on_last`` runs once the bytes are durable and before the
        final offset is visible; if it raises, the offset stays where it was.
        """

    @abc.abstractmethod
    def discard(self) -> None:
        """Forget everything this writer wrote; the offset stays where it was.

        Never shrinks what another writer committed meanwhile (a stale PATCH that ends
        after the client resumed elsewhere leaves the completed upload alone).
        """


class UploadStorage(abc.ABC):
    """The storage behind the tus endpoint."""

    @abc.abstractmethod
    def create(self, length: int, metadata: dict[str, str], owner: str,
               expires_at: float) -> UploadInfo:
        """A new, empty upload with a fresh server-chosen id."""

    @abc.abstractmethod
    def get(self, upload_id: str) -> UploadInfo | None:
        """The upload's info, or None when there is no such upload."""

    @abc.abstractmethod
    def save(self, info: UploadInfo) -> None:
        """Persist changed info (completion time); a chunk's commit saves its own."""

    @abc.abstractmethod
    def writer(self, info: UploadInfo) -> ChunkWriter:
        """A writer for the next chunk of ``info``."""

    @abc.abstractmethod
    def open(self, upload_id: str) -> BinaryIO:
        """The upload's bytes for reading."""

    @abc.abstractmethod
    def delete(self, upload_id: str) -> None:
        """Remove the upload and its bytes (no error when it is already gone)."""

    @abc.abstractmethod
    def ids(self) -> list[str]:
        """Every upload id held."""


def _write_atomic(path: Path, data: bytes, sync: bool = True) -> None:
    # A unique temporary name: two writers never share (and truncate) one temp file.
    tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        if sync:
            f.flush()
            os.fsync(f.fileno())
    os.replace(tmp, path)


_datasync = getattr(os, "fdatasync", os.fsync)


class _LocalChunkWriter(ChunkWriter):
    def __init__(self, storage: LocalDiskStorage, info: UploadInfo) -> None:
        self._storage, self._info = storage, info
        self._file: BinaryIO | None = None  # opened at the first byte (a complete upload
        self._written = 0  # is read-only, and an empty PATCH writes nothing)

    def write(self, data: bytes) -> None:
        if self._file is None:
            self._file = open(self._storage._data_path(self._info.id), "r+b")  # noqa: SIM115
            self._file.seek(self._info.offset)
        self._file.write(data)
        self._written += len(data)

    def commit(self, on_last: OnLast | None = None) -> int:
        end = self._info.offset + self._written
        last = end >= self._info.length
        if self._file is not None:
            try:
                self._file.flush()
                if last:  # the client forgets a finished upload: it must be on disk first
                    _datasync(self._file.fileno())
            finally:
                self._file.close()
        done = UploadInfo(**{**asdict(self._info), "offset": end})
        if last:
            done.completed_at = time.time()
            if on_last is not None:
                on_last(done, None)  # raises: the offset stays where it was
            if not self._storage._data_path(done.id).exists():
                return end  # the completion removed the upload (a duplicate copy)
            self._storage._mark_complete(done.id)
        else:
            # Not fsynced: after a crash the offset falls back and one chunk is resent.
            self._storage._save(done, sync=False)
        self._info.offset, self._info.completed_at = end, done.completed_at
        return end

    def discard(self) -> None:
        if self._file is None or self._file.closed:
            return
        try:
            current = self._storage.get(self._info.id)
            if current is not None and current.offset == self._info.offset \
                    and not current.complete:
                self._file.truncate(self._info.offset)
        finally:
            self._file.close()


class LocalDiskStorage(UploadStorage):
    """Uploads as ``<root>/<id>.bin`` plus ``<root>/<id>.json`` (written atomically).

    The JSON is written at the creation and at each chunk that does not finish the upload:
    a segment sent in one chunk writes it once. A finished upload's ``.bin`` is made
    read-only instead (one ``chmod``), and that says "complete" to :meth:`get`: the
    completion is recorded in the database before, so a crash in between only leaves
    the offset unpublished, and the next PATCH publishes it
    (:meth:`~zhishiyun_server.tus.shared.LeasedWrites.publish_recorded`).
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _data_path(self, upload_id: str) -> Path:
        if not UPLOAD_ID.match(upload_id):  # ids are ours; anything else is not a path
            raise ValueError("bad upload id")
        return self.root / f"{upload_id}.bin"

    def _info_path(self, upload_id: str) -> Path:
        return self._data_path(upload_id).with_suffix(".json")

    def path(self, upload_id: str) -> Path:
        """The file holding the upload's bytes (local disk only)."""
        return self._data_path(upload_id)

    def create(self, length, metadata, owner, expires_at) -> UploadInfo:  # noqa: D102
        info = UploadInfo(id=uuid.uuid4().hex, length=length, metadata=dict(metadata),
                          owner=owner, expires_at=expires_at,
                          expiry_window_s=max(0.0, expires_at - time.time()) if expires_at
                          else 0.0)
        self._data_path(info.id).touch()
        # Not fsynced: after a power cut the client's resume gets 404 and creates it again.
        self._save(info, sync=False)
        return info

    def get(self, upload_id: str) -> UploadInfo | None:  # noqa: D102
        if not UPLOAD_ID.match(upload_id):
            return None
        try:
            raw = json.loads(self._info_path(upload_id).read_text("utf-8"))
            status = self._data_path(upload_id).stat()
        except (FileNotFoundError, ValueError):
            return None
        info = UploadInfo(**raw)
        if not status.st_mode & stat.S_IWUSR and status.st_size >= info.length:
            info.offset = info.length  # made read-only once complete and recorded
            info.completed_at = info.completed_at or status.st_mtime
        else:  # after a power cut, trust only bytes on disk
            info.offset = min(info.offset, status.st_size)
        return info

    def save(self, info: UploadInfo) -> None:  # noqa: D102
        self._save(info, sync=True)

    def _mark_complete(self, upload_id: str) -> None:
        """Make the finished upload's bytes read-only: :meth:`get` then says complete."""
        os.chmod(self._data_path(upload_id), stat.S_IRUSR)

    def _save(self, info: UploadInfo, sync: bool) -> None:
        _write_atomic(self._info_path(info.id), json.dumps(asdict(info)).encode("utf-8"),
                      sync)

    def writer(self, info: UploadInfo) -> ChunkWriter:  # noqa: D102
        return _LocalChunkWriter(self, info)

    def open(self, upload_id: str) -> BinaryIO:  # noqa: D102
        return open(self._data_path(upload_id), "rb")

    def delete(self, upload_id: str) -> None:  # noqa: D102
        for path in (self._info_path(upload_id), self._data_path(upload_id)):
            path.unlink(missing_ok=True)

    def ids(self) -> list[str]:  # noqa: D102
        return sorted(p.stem for p in self.root.glob("*.json") if UPLOAD_ID.match(p.stem))


def sha256_of(storage: UploadStorage, info: UploadInfo) -> str:
    """The sha256 of a complete upload: from the way in when known, else read back."""
    if info.file_sha256:
        return info.file_sha256
    import hashlib

    digest = hashlib.sha256()
    with storage.open(info.id) as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
