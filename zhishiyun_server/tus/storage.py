"""Where tus uploads live: an interface and the local-disk implementation.

The protocol code only talks to :class:`UploadStorage`. An upload is an id chosen by the
server (never a name from the client), its :class:`UploadInfo` and its bytes. Writes come in
as a :class:`ChunkWriter`: bytes are written at the current offset and only count once
``commit()`` returns; ``discard()`` forgets them, so a PATCH whose checksum fails leaves the
offset where it was.

An S3-compatible store fits behind the same interface: keep ``UploadInfo`` as a small JSON
object (or a database row), buffer each chunk to a temporary file, and on ``commit()`` upload
it as the next part of a multipart upload (parts below 5 MiB are kept in a ``.pending``
object and prepended to the next chunk, as ``@tus/s3-store`` does); ``open()`` streams the
finished object. The tus code above it does not change.
"""

from __future__ import annotations

import abc
import json
import os
import re
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO

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

    @property
    def complete(self) -> bool:
        """True once every byte has arrived."""
        return self.offset >= self.length


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
    def commit(self) -> int:
        """Make the written bytes durable and part of the upload; return the new offset."""

    @abc.abstractmethod
    def discard(self) -> None:
        """Forget everything this writer wrote; the offset stays where it was."""


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
    tmp = path.with_suffix(path.suffix + ".tmp")
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
        self._file = open(storage._data_path(info.id), "r+b")  # noqa: SIM115 - closed below
        self._file.seek(info.offset)
        self._written = 0

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self._written += len(data)

    def commit(self) -> int:
        end = self._info.offset + self._written
        last = end >= self._info.length
        try:
            self._file.truncate(end)
            self._file.flush()
            if last:  # the client forgets a finished upload: it must be on disk first
                _datasync(self._file.fileno())
        finally:
            self._file.close()
        self._info.offset = end
        self._storage._save(self._info, sync=last)
        return end

    def discard(self) -> None:
        if self._file.closed:
            return
        try:
            self._file.truncate(self._info.offset)
        finally:
            self._file.close()


class LocalDiskStorage(UploadStorage):
    """Uploads as ``<root>/<id>.bin`` plus ``<root>/<id>.json`` (written atomically)."""

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
        self.save(info)
        return info

    def get(self, upload_id: str) -> UploadInfo | None:  # noqa: D102
        if not UPLOAD_ID.match(upload_id):
            return None
        try:
            raw = json.loads(self._info_path(upload_id).read_text("utf-8"))
            size = self._data_path(upload_id).stat().st_size
        except (FileNotFoundError, ValueError):
            return None
        info = UploadInfo(**raw)
        info.offset = min(info.offset, size)  # after a power cut, trust only bytes on disk
        return info

    def save(self, info: UploadInfo) -> None:  # noqa: D102
        self._save(info, sync=True)

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
