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
import hmac
import json
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

MANIFEST_NAME = "manifest.jsonl"
REQUIRED_FIELDS = ("seq", "track", "start", "duration_ms", "bytes", "sha256")
_CHUNK = 1 << 20


def canonical_bytes(record: Mapping[str, Any]) -> bytes:
    """The canonical serialisation: sorted keys, no spaces, UTF-8, no newline."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def _key_bytes(key: bytes | str) -> bytes:
    return key.encode("utf-8") if isinstance(key, str) else bytes(key)


def compute_mac(record: Mapping[str, Any], key: bytes | str) -> str:
    """HMAC-SHA256 (hex) of the canonical form of ``record`` without its ``mac`` field."""
    body = {k: v for k, v in record.items() if k != "mac"}
    return hmac.new(_key_bytes(key), canonical_bytes(body), hashlib.sha256).hexdigest()


def line_hash(line: bytes | str) -> str:
    """sha256 hex of a manifest line's exact bytes, trailing newline excluded."""
    data = line.encode("utf-8") if isinstance(line, str) else bytes(line)
    return hashlib.sha256(data.rstrip(b"\r\n")).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> tuple[str, int]:
    """sha256 hex and size in bytes of a file."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def format_time(moment: datetime) -> str:
    """ISO 8601 with milliseconds and offset; a naive time is refused."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("manifest times must carry a UTC offset")
    return moment.isoformat(timespec="milliseconds")


def _check_record(record: Mapping[str, Any]) -> None:
    missing = [f for f in REQUIRED_FIELDS if f not in record]
    if missing:
        raise ValueError(f"manifest record lacks {', '.join(missing)}")
    for name in ("seq", "duration_ms", "bytes"):
        value = record[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"manifest field {name} must be a non-negative int, got {value!r}")
    if not isinstance(record["track"], str) or not record["track"]:
        raise ValueError("manifest field track must be non-empty text")


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
        self._key = _key_bytes(key)
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
        _check_record(record)
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


@dataclass
class TrackVerification:
    """What :func:`verify_manifest` found for one track (lists hold ``seq`` numbers)."""

    track: str
    seqs: list[int] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)
    bad_prev: list[int] = field(default_factory=list)
    bad_mac: list[int] = field(default_factory=list)
    out_of_order: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No missing, duplicated, re-chained, forged or reordered line."""
        return not (self.missing or self.duplicates or self.bad_prev or self.bad_mac
                    or self.out_of_order)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {"track": self.track, "ok": self.ok, "count": len(self.seqs),
                "missing": self.missing, "duplicates": self.duplicates,
                "bad_prev": self.bad_prev, "bad_mac": self.bad_mac,
                "out_of_order": self.out_of_order}


@dataclass
class ManifestVerification:
    """Result of :func:`verify_manifest`: per track, plus lines that are not records."""

    tracks: dict[str, TrackVerification] = field(default_factory=dict)
    #: 1-based line numbers that are not JSON objects with the required fields.
    malformed_lines: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every track is ok and every line parsed."""
        return not self.malformed_lines and all(t.ok for t in self.tracks.values())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {"ok": self.ok, "malformed_lines": self.malformed_lines,
                "tracks": {name: t.to_dict() for name, t in sorted(self.tracks.items())}}


def verify_manifest(
    lines: Iterable[bytes | str],
    key: bytes | str,
    *,
    expected_last_seq: Mapping[str, int] | None = None,
) -> ManifestVerification:
    """Check the chain, MACs and numbering of manifest lines, per track.

    Args:
        lines: the manifest's lines in file order (bytes or str; newlines are stripped).
        key: the session key.
        expected_last_seq: optionally, per track, the last seq that must be present (so a
            segment removed from the end is reported as missing too).

    Returns:
        A :class:`ManifestVerification`; ``bad_prev`` names the seq of each line whose
        ``prev`` does not match the line before it in its track (a line removed, inserted
        or moved before it), ``bad_mac`` each line whose MAC fails (edited or forged).
    """
    result = ManifestVerification()
    last_hash: dict[str, str] = {}
    last_seq: dict[str, int] = {}
    key_bytes = _key_bytes(key)
    for number, raw in enumerate(lines, start=1):
        data = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
        data = data.rstrip(b"\r\n")
        if not data.strip():
            continue
        try:
            record = json.loads(data)
            if not isinstance(record, dict):
                raise ValueError("not an object")
            _check_record(record)
        except (ValueError, TypeError):
            result.malformed_lines.append(number)
            continue
        track, seq = record["track"], record["seq"]
        check = result.tracks.setdefault(track, TrackVerification(track))
        if seq in check.seqs:
            check.duplicates.append(seq)
        if track in last_seq and seq <= last_seq[track]:
            check.out_of_order.append(seq)
        check.seqs.append(seq)
        if record.get("prev", None) != last_hash.get(track, ""):
            check.bad_prev.append(seq)
        mac = record.get("mac")
        if not isinstance(mac, str) or not hmac.compare_digest(
                mac, hmac.new(key_bytes, canonical_bytes(
                    {k: v for k, v in record.items() if k != "mac"}),
                    hashlib.sha256).hexdigest()):
            check.bad_mac.append(seq)
        last_hash[track] = hashlib.sha256(data).hexdigest()
        last_seq[track] = max(seq, last_seq.get(track, seq))
    for track, last in (expected_last_seq or {}).items():
        result.tracks.setdefault(track, TrackVerification(track))
        last_seq[track] = max(last, last_seq.get(track, last))
    for track, check in result.tracks.items():
        present = set(check.seqs)
        top = last_seq.get(track, -1)
        check.missing = [s for s in range(0, top + 1) if s not in present]
    return result
