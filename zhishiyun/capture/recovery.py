"""Crash recovery: close segments a killed process left open and add them to the manifest.

A segment is *open* when ``<track>/<seq>.mp4`` exists without a manifest line for
(track, seq). The recorder writes ``<seq>.open.json`` (start in server time, encoder, and
every second the time it was last alive) next to each open segment, so recovery knows when
it started and how long it ran (a static screen writes no frames for long stretches);
without it the start is estimated from the file's modification time and flagged
``start_estimated``.

Recovered segments are decoded to find what survives (PyAV raises ``InvalidDataError``
at the cut, which ends the scan). A file with no decodable video frame is kept in place,
never deleted or modified, and reported; unless it is empty it still gets its manifest line
(``undecodable: true``) and is handed on for upload, so every seq of the shared segment
boundaries stays accounted for and the raw bytes reach the reviewers.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import av

from zhishiyun.capture.manifest import (
    MANIFEST_NAME,
    ManifestWriter,
    format_time,
    sha256_file,
)

log = logging.getLogger(__name__)

TRACKS = ("screen", "camera")
_SEGMENT_NAME = re.compile(r"^(\d+)\.mp4$")


@dataclass(frozen=True)
class ClosedSegment:
    """A segment that is complete on disk and in the manifest (handed to the uploader)."""

    track: str
    seq: int
    path: Path
    start: str
    duration_ms: int
    bytes: int
    sha256: str
    recovered: bool = False
    record: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {"track": self.track, "seq": self.seq, "path": str(self.path),
                "start": self.start, "duration_ms": self.duration_ms, "bytes": self.bytes,
                "sha256": self.sha256, "recovered": self.recovered}


@dataclass
class DecodeReport:
    """What decoding a segment file found."""

    video_frames: int = 0
    audio_frames: int = 0
    duration_ms: int = 0
    error: str = ""


@dataclass
class RecoveryReport:
    """Result of :func:`recover_session`."""

    recovered: list[ClosedSegment] = field(default_factory=list)
    #: Files kept in place that hold no decodable video: ``{path, error}``.
    unreadable: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {"recovered": [s.to_dict() for s in self.recovered],
                "unreadable": self.unreadable}


def segment_path(session_dir: Path, track: str, seq: int) -> Path:
    """``<session>/<track>/<seq>.mp4`` with seq zero-padded to six digits."""
    return session_dir / track / f"{seq:06d}.mp4"


def marker_path(segment: Path) -> Path:
    """The ``<seq>.open.json`` marker of an open segment."""
    return segment.with_name(segment.stem + ".open.json")


def segment_files(session_dir: Path) -> list[tuple[str, int, Path]]:
    """Every ``(track, seq, path)`` segment file in a session directory."""
    found = []
    for track_dir in sorted(p for p in session_dir.iterdir() if p.is_dir()) \
            if session_dir.is_dir() else []:
        for path in track_dir.iterdir():
            match = _SEGMENT_NAME.match(path.name)
            if match:
                found.append((track_dir.name, int(match.group(1)), path))
    return sorted(found, key=lambda item: (item[1], item[0]))


def next_seq(session_dir: Path) -> int:
    """The seq a new recording in this session starts at (after every file present)."""
    seqs = [seq for _, seq, _ in segment_files(session_dir)]
    return max(seqs) + 1 if seqs else 0


def decode_segment(path: Path) -> DecodeReport:
    """Decode every packet of a segment file; stops quietly at a crash cut."""
    report = DecodeReport()
    end = 0.0
    try:
        with av.open(str(path)) as container:
            streams = [s for s in container.streams if s.type in ("video", "audio")]
            try:
                for packet in container.demux(*streams):
                    if packet.dts is None and packet.size == 0:
                        continue
                    for frame in packet.decode():
                        if frame.time is not None:
                            duration = 0.0
                            if packet.duration and packet.time_base:
                                duration = float(packet.duration * packet.time_base)
                            end = max(end, frame.time + duration)
                        if packet.stream.type == "video":
                            report.video_frames += 1
                        else:
                            report.audio_frames += 1
            except (av.error.InvalidDataError, av.error.EOFError, EOFError) as exc:
                report.error = f"cut at: {exc}"
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        report.error = str(exc)
    report.duration_ms = int(round(end * 1000))
    return report


def recover_session(session_dir: Path, session_key: bytes | str) -> RecoveryReport:
    """Close every segment a crash left open; append ``recovered`` manifest lines.

    Safe to call at any time no recorder is writing to ``session_dir``.
    """
    session_dir = Path(session_dir)
    report = RecoveryReport()
    files = segment_files(session_dir)
    if not files:
        return report
    with ManifestWriter(session_dir / MANIFEST_NAME, session_key) as writer:
        for track, seq, path in files:
            marker = marker_path(path)
            if writer.has(track, seq):
                marker.unlink(missing_ok=True)
                continue
            decoded = decode_segment(path)
            digest, size = sha256_file(path)
            if decoded.video_frames == 0:
                error = decoded.error or "no video frames"
                report.unreadable.append({"path": str(path), "error": error})
                if size == 0:
                    log.error("segment %s is empty; kept, nothing to upload", path)
                    continue
                # Still a manifest line and an upload: the seq stays accounted for on the
                # shared boundaries (no gap on the server) and the bytes reach reviewers.
                log.error("segment %s cannot be decoded (%s); kept and uploaded as it is",
                          path, error)
            info = _read_marker(marker)
            # an unchanging screen writes no frames: the marker says how long it lasted
            alive = info.get("alive_ms")
            duration_ms = max(decoded.duration_ms, alive if isinstance(alive, int) else 0)
            record: dict[str, Any] = {
                "seq": seq, "track": track, "duration_ms": duration_ms,
                "bytes": size, "sha256": digest, "recovered": True,
                "frames": decoded.video_frames,
            }
            if decoded.video_frames == 0:
                record["undecodable"] = True
            if info.get("start"):
                record["start"] = info["start"]
            else:
                modified = datetime.fromtimestamp(path.stat().st_mtime).astimezone()
                record["start"] = format_time(
                    modified - timedelta(milliseconds=decoded.duration_ms))
                record["start_estimated"] = True
            if info.get("encoder"):
                record["encoder"] = info["encoder"]
            written = writer.append(record)
            marker.unlink(missing_ok=True)
            log.warning("recovered segment %s/%s: %d ms (%d ms of frames), %d frames", track,
                        seq, duration_ms, decoded.duration_ms, decoded.video_frames)
            report.recovered.append(ClosedSegment(
                track, seq, path, written["start"], duration_ms, size, digest, True, written))
    return report


def _read_marker(marker: Path) -> dict[str, Any]:
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
