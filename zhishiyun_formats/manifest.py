"""Manifest lines: canonical form, MAC, chain and their verification (standard library only).

The client writes manifest lines by these rules (``zhishiyun.capture.manifest``) and the
reference server verifies them by the same code; neither side keeps a copy of its own. The
format itself is described in :mod:`zhishiyun.capture.manifest`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

MANIFEST_NAME = "manifest.jsonl"
REQUIRED_FIELDS = ("seq", "track", "start", "duration_ms", "bytes", "sha256")


def canonical_bytes(record: Mapping[str, Any]) -> bytes:
    """The canonical serialisation: sorted keys, no spaces, UTF-8, no newline."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def key_bytes(key: bytes | str) -> bytes:
    """A session key as bytes (text is taken as UTF-8)."""
    return key.encode("utf-8") if isinstance(key, str) else bytes(key)


def compute_mac(record: Mapping[str, Any], key: bytes | str) -> str:
    """HMAC-SHA256 (hex) of the canonical form of ``record`` without its ``mac`` field."""
    body = {k: v for k, v in record.items() if k != "mac"}
    return hmac.new(key_bytes(key), canonical_bytes(body), hashlib.sha256).hexdigest()


def line_hash(line: bytes | str) -> str:
    """sha256 hex of a manifest line's exact bytes, trailing newline excluded."""
    data = line.encode("utf-8") if isinstance(line, str) else bytes(line)
    return hashlib.sha256(data.rstrip(b"\r\n")).hexdigest()


def file_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 hex of a whole file, as a manifest line's ``sha256`` names a segment."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def format_time(moment: datetime) -> str:
    """ISO 8601 with milliseconds and offset; a naive time is refused."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("manifest times must carry a UTC offset")
    return moment.isoformat(timespec="milliseconds")


def check_record(record: Mapping[str, Any]) -> None:
    """Raise ValueError unless ``record`` has the required fields with sane types."""
    missing = [f for f in REQUIRED_FIELDS if f not in record]
    if missing:
        raise ValueError(f"manifest record lacks {', '.join(missing)}")
    for name in ("seq", "duration_ms", "bytes"):
        value = record[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"manifest field {name} must be a non-negative int, got {value!r}")
    if not isinstance(record["track"], str) or not record["track"]:
        raise ValueError("manifest field track must be non-empty text")


def parse_record(line: bytes | str) -> dict[str, Any]:
    """The record of one manifest line (newline stripped); ValueError unless it is one.

    A record is a JSON object with the required fields (:func:`check_record`); the line's
    MAC and chain are not checked here.
    """
    data = line.encode("utf-8") if isinstance(line, str) else bytes(line)
    try:
        record = json.loads(data.rstrip(b"\r\n"))
    except (ValueError, TypeError) as exc:  # UnicodeDecodeError is a ValueError
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(record, dict):
        raise ValueError("not an object")
    check_record(record)
    return record


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
    secret = key_bytes(key)
    for number, raw in enumerate(lines, start=1):
        data = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
        data = data.rstrip(b"\r\n")
        if not data.strip():
            continue
        try:
            record = parse_record(data)
        except ValueError:
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
                mac, hmac.new(secret, canonical_bytes(
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
