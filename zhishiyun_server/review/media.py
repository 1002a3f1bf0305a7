"""A session's recordings as media: one MP4 per track, the latest camera picture.

Segments are read through the upload storage (:func:`zhishiyun_server.tus.endpoint.app_storage`,
local disk or S3) and remuxed with PyAV without re-encoding: every segment's packets are
shifted to the segment's place on the track's timeline (its manifest ``duration_ms``, else
its own length), so the browser sees one file it can seek through. Results are cached
under ``<data>/review-cache/<session>/`` by a digest of the segments they hold, written to
a temporary name and renamed, so concurrent requests and processes never see half a file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from sqlalchemy import select
from sqlalchemy.orm import Session

from zhishiyun_server.models import RecordingSegment
from zhishiyun_server.recordings import ManifestLine
from zhishiyun_server.tus.storage import UploadStorage

log = logging.getLogger(__name__)
#: Old versions of a growing track are kept this long (a player may still be reading one).
KEEP_OLD_S = 600
THUMB_WIDTH = 320
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


@dataclass
class Piece:
    """One segment's place on its track's timeline (seconds) and wall clock."""

    seq: int
    storage_key: str
    sha256: str
    offset: float
    duration: float
    start: str | None


def _lock(key: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


def cache_dir(data_dir: Path, session_id: str) -> Path:
    """Where the console caches media of ``session_id``."""
    path = Path(data_dir) / "review-cache" / hashlib.sha256(session_id.encode()).hexdigest()[:32]
    path.mkdir(parents=True, exist_ok=True)
    return path


def _segment_seconds(storage: UploadStorage, key: str) -> float:
    """A segment's own media length, read from its packets."""
    end = 0.0
    try:
        with storage.open(key) as f, av.open(f) as container:
            start = (container.start_time or 0) / 1_000_000
            try:
                for packet in container.demux():
                    if packet.pts is not None and packet.stream.time_base is not None:
                        duration = packet.duration or 0
                        end = max(end, float((packet.pts + duration) * packet.stream.time_base))
            except av.error.InvalidDataError:
                pass
            return max(0.0, end - start)
    except (av.error.FFmpegError, OSError):
        return 0.0


def timeline(db: Session, storage: UploadStorage, session_id: str, track: str) -> list[Piece]:
    """The received segments of ``track`` in order, with their offsets on the timeline."""
    segments = db.scalars(select(RecordingSegment).where(
        RecordingSegment.session_id == session_id, RecordingSegment.track == track)
        .order_by(RecordingSegment.seq)).all()
    lines = {row.seq: row.line for row in db.scalars(select(ManifestLine).where(
        ManifestLine.session_id == session_id, ManifestLine.track == track))}
    pieces, offset = [], 0.0
    for segment in segments:
        record = {}
        if segment.seq in lines:
            try:
                record = json.loads(lines[segment.seq])
            except ValueError:
                record = {}
        duration_ms = record.get("duration_ms")
        if isinstance(duration_ms, int) and not isinstance(duration_ms, bool) and duration_ms > 0:
            duration = duration_ms / 1000
        else:
            duration = _segment_seconds(storage, segment.storage_key)
        start = record.get("start") if isinstance(record.get("start"), str) else None
        pieces.append(Piece(segment.seq, segment.storage_key, segment.sha256, offset, duration,
                            start))
        offset += duration
    return pieces


def version_of(pieces: list[Piece]) -> str:
    """A short digest naming exactly these segments in this order."""
    digest = hashlib.sha256()
    for piece in pieces:
        digest.update(f"{piece.seq}:{piece.sha256}:{piece.offset:.3f};".encode())
    return digest.hexdigest()[:16]


def _first_streams(container) -> dict:
    """The first video and the first audio stream of ``container`` by type."""
    streams: dict = {}
    for stream in container.streams:
        if stream.type in ("video", "audio") and stream.type not in streams:
            streams[stream.type] = stream
    return streams


#: Codecs an MP4 cannot carry (the phone's MediaRecorder WebM): those tracks stay WebM.
WEBM_CODECS = frozenset({"vp8", "vorbis"})
#: The first bytes of every WebM (Matroska) file.
EBML_MAGIC = b"\x1a\x45\xdf\xa3"


def _remux(storage: UploadStorage, pieces: list[Piece], out_path: Path) -> None:
    """Write the pieces' packets into one MP4 (WebM for VP8) at ``out_path``, no re-encoding."""
    with storage.open(pieces[0].storage_key) as f, av.open(f) as probe:
        codecs = {s.codec_context.name for s in _first_streams(probe).values()}
    if codecs & WEBM_CODECS:
        output = av.open(str(out_path), "w", format="webm")
    else:
        output = av.open(str(out_path), "w", format="mp4", options={"movflags": "+faststart"})
    try:
        with storage.open(pieces[0].storage_key) as f, av.open(f) as first:
            outs = {kind: output.add_stream_from_template(stream)
                    for kind, stream in _first_streams(first).items()}
        last_dts: dict[str, int] = {}
        for piece in pieces:
            _copy_piece(storage, piece, output, outs, last_dts)
    finally:
        output.close()


def _copy_piece(storage: UploadStorage, piece: Piece, output, outs: dict,
                last_dts: dict) -> None:
    """Mux one segment's packets, shifted to ``piece.offset``, into ``output``."""
    try:
        with storage.open(piece.storage_key) as f, av.open(f) as container:
            base = Fraction(container.start_time or 0, 1_000_000)
            shift = Fraction(piece.offset).limit_denominator(1_000_000) - base
            streams = {kind: s for kind, s in _first_streams(container).items() if kind in outs}
            try:
                for packet in container.demux(list(streams.values())):
                    if packet.dts is None or packet.pts is None or packet.size == 0:
                        continue
                    kind = packet.stream.type
                    tb = packet.stream.time_base
                    move = round(shift / tb)
                    dts, pts = packet.dts + move, packet.pts + move
                    previous = last_dts.get(kind)
                    if previous is not None and dts <= previous:
                        dts = previous + 1
                    packet.pts, packet.dts = max(pts, dts), dts
                    packet.stream = outs[kind]
                    packet.time_base = tb
                    output.mux(packet)
                    last_dts[kind] = dts
            except av.error.InvalidDataError:
                pass  # a segment cut by a crash: everything before the cut is in
    except (av.error.FFmpegError, OSError) as exc:
        log.warning("segment %s skipped in the review track: %s", piece.seq, exc)


def track_file(data_dir: Path, storage: UploadStorage, session_id: str, track: str,
               pieces: list[Piece], version: str | None = None) -> Path | None:
    """The cached MP4 of ``track`` (built when needed); None when nothing was received.

    ``version`` (from :func:`version_of`) asks for a version a player already reads; it
    is served while its file is cached, even after newer segments arrived.
    """
    folder = cache_dir(data_dir, session_id)
    if version and all(c in "0123456789abcdef" for c in version) and len(version) == 16:
        wanted = folder / f"{track}-{version}.mp4"
        if wanted.exists():
            return wanted
    if not pieces:
        return None
    current = folder / f"{track}-{version_of(pieces)}.mp4"
    with _lock(str(current)):
        if not current.exists():
            tmp = folder / f".{uuid.uuid4().hex}.mp4"
            try:
                _remux(storage, pieces, tmp)
                os.replace(tmp, current)
            finally:
                tmp.unlink(missing_ok=True)
            _forget_old(folder, track, current)
    return current


def _forget_old(folder: Path, track: str, keep: Path) -> None:
    cutoff = time.time() - KEEP_OLD_S
    for path in folder.glob(f"{track}-*.mp4"):
        try:
            if path != keep and path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:
            pass


def latest_picture(data_dir: Path, storage: UploadStorage, segment: RecordingSegment) -> bytes:
    """A JPEG of the last decodable frame of ``segment`` (cached per segment)."""
    folder = cache_dir(data_dir, segment.session_id)
    path = folder / f"picture-{segment.track}-{segment.seq}-{segment.sha256[:12]}.jpg"
    if path.exists():
        return path.read_bytes()
    frame = None
    try:
        with storage.open(segment.storage_key) as f, av.open(f) as container:
            try:
                for decoded in container.decode(video=0):
                    frame = decoded
            except av.error.InvalidDataError:
                pass
    except (av.error.FFmpegError, OSError) as exc:
        log.warning("no picture from segment %s: %s", segment.seq, exc)
    if frame is None:
        return b""
    data = _jpeg(frame)
    tmp = folder / f".{uuid.uuid4().hex}.jpg"
    tmp.write_bytes(data)
    os.replace(tmp, path)
    for old in folder.glob(f"picture-{segment.track}-*.jpg"):
        if old != path:
            old.unlink(missing_ok=True)
    return data


def _jpeg(frame: av.VideoFrame) -> bytes:
    width = min(THUMB_WIDTH, frame.width)
    height = max(2, round(frame.height * width / frame.width) // 2 * 2)
    small = frame.reformat(width=width, height=height, format="yuvj420p")
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuvj420p"
    codec.time_base = Fraction(1, 25)
    codec.options = {"q:v": "5"}
    packets = codec.encode(small) + codec.encode(None)
    return b"".join(bytes(p) for p in packets)


def container_of(storage: UploadStorage, pieces: list[Piece]) -> str:
    """``webm`` when the track's first segment is WebM (EBML magic), else ``mp4``.

    The desktop records MP4; a phone's MediaRecorder WebM (VP8) stays WebM when remuxed.
    """
    if not pieces:
        return "mp4"
    try:
        with storage.open(pieces[0].storage_key) as f:
            return "webm" if f.read(4) == EBML_MAGIC else "mp4"
    except OSError:
        return "mp4"


def media_type(path: Path) -> str:
    """``video/mp4``, or ``video/webm`` for a track kept as WebM (EBML magic)."""
    with open(path, "rb") as f:
        return "video/webm" if f.read(4) == EBML_MAGIC else "video/mp4"


def cached(data_dir: Path, session_id: str, track: str, version: str) -> bool:
    """True when the MP4 ``version`` of ``track`` is in the cache."""
    if len(version) != 16 or any(c not in "0123456789abcdef" for c in version):
        return False
    return (cache_dir(data_dir, session_id) / f"{track}-{version}.mp4").exists()
