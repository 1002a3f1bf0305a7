"""A write-through output file that hashes its bytes as the muxer writes them.

The manifest needs each segment's sha256; reading a closed segment back to hash it costs
a second pass over every byte recorded. :class:`HashingFile` is handed to PyAV as the
container's output instead of a path: each ``write`` goes straight to the OS (no buffer in
this process, so a killed recorder loses nothing the muxer had flushed) and into the hash.
Fragmented MP4 is written front to back; should a muxer seek back and overwrite, the
running hash no longer describes the file, and :meth:`HashingFile.digest` says so
(``None``) so the caller hashes the file from disk instead.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


class HashingFile:
    """A binary file opened for writing whose sha256 is computed while writing.

    Implements the part of the file protocol PyAV's output uses: ``write``, ``seek``,
    ``tell``, ``flush``, ``close`` (and ``seekable``).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC
                           | getattr(os, "O_BINARY", 0), 0o644)
        self._hash = hashlib.sha256()
        self._position = 0
        self._end = 0
        self._linear = True

    def write(self, data) -> int:
        """Write all of ``data`` at the current position (to the OS, unbuffered)."""
        view = memoryview(data).cast("B")
        if self._position != self._end:
            self._linear = False  # an overwrite: the running hash no longer applies
        elif self._linear:
            self._hash.update(view)
        written = 0
        while written < len(view):
            written += os.write(self._fd, view[written:])
        self._position += written
        self._end = max(self._end, self._position)
        return written

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move the write position (as :meth:`io.RawIOBase.seek`)."""
        self._position = os.lseek(self._fd, offset, whence)
        return self._position

    def tell(self) -> int:
        """The current write position."""
        return self._position

    def seekable(self) -> bool:
        """Output files can seek (PyAV asks)."""
        return True

    def flush(self) -> None:
        """Nothing is buffered here: every write already reached the OS."""

    def close(self) -> None:
        """Close the file descriptor (idempotent)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    @property
    def size(self) -> int:
        """Bytes in the file."""
        return self._end

    def digest(self) -> str | None:
        """sha256 hex of the file's bytes, or ``None`` when the muxer rewrote earlier bytes."""
        return self._hash.hexdigest() if self._linear else None
