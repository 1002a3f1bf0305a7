"""The session manifest: one JSON line per closed segment, chained and authenticated.

This module is pure standard library (``hashlib``, ``hmac``, ``json``) and imports nothing
else from Zhishiyun, so the reference server imports it to verify what a client sent.

File: ``<session dir>/manifest.jsonl``, UTF-8, one record per line, each line ending in
a newline. A record has at least::

    seq          int, segment number within its track, from 0, +1 per segment
    track        "screen" or "camera" (any non-empty text is accepted)
    start        server time of the segment's first frame, ISO 8601 with offset,
                 e.g. "2026-11-23T19:30:00.123+08:00"
    duration_ms  int, media duration of the segment
    bytes        int, size of the segment file
    sha256       hex sha256 of the segment file
    prev         hex sha256 of the exact bytes of the previous line OF THE SAME TRACK
                 (without its trailing newline); "" (empty string) for a track's first line
    mac          hex HMAC-SHA256, key = session key, over the canonical form of the record
                 without the "mac" field

Optional fields may be added freely and are covered by the MAC: ``recovered`` (true when
crash recovery closed the segment), ``encoder`` (e.g. "libx264"), ``frames``,
``dropped``, ``note``.

Canonical form (used both for the MAC input and for the line itself)::

    json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    encoded as UTF-8

The line written to the file is the canonical form of the full record (``mac`` included),
so a line re-serialised canonically gives back the same bytes. A session key given as
``str`` is used as its UTF-8 bytes.

Chains are per track, so the server can check each track on its own: a missing line
breaks the next line's ``prev``; an edited line breaks its own ``mac`` and the next
line's ``prev``; a reordered line breaks ``prev`` (and its ``seq`` is out of order); a
missing segment leaves a hole in ``seq`` (also at the end, when ``expected_last_seq`` is
given to :func:`verify_manifest`).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from zhishiyun_formats.manifest import (  # noqa: F401 - the format's one definition, re-exported
    MANIFEST_NAME,
    REQUIRED_FIELDS,
    ManifestVerification,
    TrackVerification,
    canonical_bytes,
    check_record,
    compute_mac,
    format_time,
    key_bytes,
    line_hash,
    verify_manifest,
)

_CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike[str]) -> tuple[str, int]:
    """sha256 hex and size in bytes of a file."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def read_lines(path: str | os.PathLike[str]) -> list[bytes]:
    """The raw lines of a manifest file (newline stripped); [] when it does not exist."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return []
    return [line for line in data.split(b"\n") if line.strip()]


def read_records(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The parseable records of a manifest file, in file order (broken lines skipped)."""
    records = []
    for line in read_lines(path):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


class ManifestWriter:
    """Appends chained, MAC'd lines to ``manifest.jsonl``; fsync after every line.

    Opening an existing manifest continues each track's chain from its last line. A torn
    last line (power cut mid-write) is left in place and a newline is added after it, so it
    shows as malformed in :func:`verify_manifest` instead of corrupting the next line.
    Thread-safe.
    """

    def __init__(self, path: str | os.PathLike[str], key: bytes | str) -> None:
        self.path = Path(path)
        self._key = key_bytes(key)
        self._lock = threading.Lock()
        self._last: dict[str, str] = {}
        self._seqs: dict[str, set[int]] = {}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        existed = self.path.exists()
        raw = self.path.read_bytes() if existed else b""
        for line in raw.split(b"\n"):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                track, seq = record["track"], record["seq"]
            except (ValueError, KeyError, TypeError):
                continue
            self._last[track] = line_hash(line)
            self._seqs.setdefault(track, set()).add(seq)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        if raw and not raw.endswith(b"\n"):
            os.write(self._fd, b"\n")
            os.fsync(self._fd)
        if not existed:
            fsync_path(self.path.parent)

    def has(self, track: str, seq: int) -> bool:
        """Whether a line for (track, seq) is already in the manifest."""
        with self._lock:
            return seq in self._seqs.get(track, set())

    def append(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Write one record (``prev`` and ``mac`` are filled in) and return it as written.

        Raises:
            ValueError: a required field is missing or of the wrong type.
        """
        check_record(record)
        with self._lock:
            full = {k: v for k, v in record.items() if k not in ("prev", "mac")}
            full["prev"] = self._last.get(full["track"], "")
            full["mac"] = compute_mac(full, self._key)
            line = canonical_bytes(full)
            os.write(self._fd, line + b"\n")
            os.fsync(self._fd)
            self._last[full["track"]] = line_hash(line)
            self._seqs.setdefault(full["track"], set()).add(full["seq"])
            return full

    def close(self) -> None:
        """Close the file (idempotent)."""
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def __enter__(self) -> ManifestWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def fsync_path(path: Path) -> None:
    """Force a file's or directory's data to disk (best effort)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # Windows cannot open directories; NTFS journals metadata anyway
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
