"""Recordings: the session manifest and what arrived, per track.

- ``POST /api/v1/sessions/{sid}/manifest`` takes ``{"lines": [<manifest line>, ...]}``
  (the exact text of lines of ``manifest.jsonl``, any order, any batch size; resending a
  line is harmless) and answers ``{accepted, verification}``.
- ``GET /api/v1/sessions/{sid}/recordings`` answers ``{tracks: {<track>: {received,
  missing, bytes, chain_ok}}}``: ``missing`` are the seq numbers named by the manifest or
  skipped below the highest seq seen that have not arrived; ``chain_ok`` is None while no
  manifest line of that track arrived, else whether the chain and every MAC verify
  (:func:`zhishiyun.capture.manifest.verify_manifest`, the same rule the client writes by)
  and every received segment's sha256 matches its manifest line.

Segments are recorded by the tus endpoint (:func:`record_segment`) after their sha256 was
checked against the upload metadata and, when its line already arrived, the manifest.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    case,
    func,
    insert,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from zhishiyun_formats.answer_chain import ANSWERS_TRACK
from zhishiyun_formats.manifest import (
    ManifestVerification,
    TrackVerification,
    canonical_bytes,
    check_record,
    key_bytes,
)
from zhishiyun_server import clock, evidence
from zhishiyun_server.answer_chain import answers_state
from zhishiyun_server.db import Base, UTCDateTime
from zhishiyun_server.deps import current_candidate, current_candidate_id, get_db, owned_session
from zhishiyun_server.errors import ApiProblem
from zhishiyun_server.models import Candidate, ExamSession, RecordingSegment
from zhishiyun_server.seqranges import missing_list, missing_ranges
from zhishiyun_server.validation import (
    MAX_LINES_PER_SESSION,
    MAX_SEQ,
    MAX_TRACKS_PER_SESSION,
)

log = logging.getLogger(__name__)
router = APIRouter(tags=["recordings"])
MAX_LINES_PER_BATCH = 5000
MAX_LINE_BYTES = 4096


class ManifestLine(Base):
    """One line of a session's manifest, exactly as the client wrote it."""

    __tablename__ = "manifest_lines"
    __table_args__ = (UniqueConstraint("session_id", "track", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("exam_sessions.id", ondelete="CASCADE"), index=True)
    track: Mapped[str] = mapped_column(String(16))
    seq: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    line: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    # What verifying the line found, stored on arrival so that a session's verification
    # never re-reads and re-MACs its whole manifest (NULL: not verified yet, see _backfill).
    line_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    mac_ok: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    #: ``prev`` names the line before it (the nearest well-formed lower seq of its track).
    prev_ok: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    well_formed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)


class ManifestBatch(BaseModel):
    """Lines of ``manifest.jsonl`` (exact text, newline optional)."""

    lines: list[str] = Field(max_length=MAX_LINES_PER_BATCH)


class ManifestReply(BaseModel):
    """How many lines were new, and the verification of everything received so far."""

    accepted: int
    conflicts: list[dict]
    verification: dict


class TrackState(BaseModel):
    """One track in ``GET /sessions/{sid}/recordings``."""

    received: list[int]
    #: The first ``MAX_LISTED`` missing seq numbers; ``missing_ranges`` names them all.
    missing: list[int]
    missing_ranges: list[list[int]] = Field(default_factory=list)
    missing_count: int = 0
    bytes: int
    chain_ok: bool | None
    #: Segments that arrived without a manifest line (evidence.py).
    unsigned: list[int] = Field(default_factory=list)
    #: ``{seq, late_s}``: lines that arrived long after their segment closed.
    late: list[dict] = Field(default_factory=list)
    #: The last seq the client named at finish (None: not finished).
    last_seq: int | None = None


class RecordingsReply(BaseModel):
    """``GET /sessions/{sid}/recordings``."""

    tracks: dict[str, TrackState]


def _lines_by_track(db: Session, session_id: str) -> dict[str, list[ManifestLine]]:
    rows = db.scalars(select(ManifestLine).where(ManifestLine.session_id == session_id)
                      .order_by(ManifestLine.track, ManifestLine.seq)).all()
    tracks: dict[str, list[ManifestLine]] = {}
    for row in rows:
        tracks.setdefault(row.track, []).append(row)
    return tracks


def _facts(row: ManifestLine, key: bytes) -> None:
    """Fill in the facts of one line that need only the line itself and the key."""
    data = row.line.encode("utf-8").rstrip(b"\r\n")
    row.line_hash = hashlib.sha256(data).hexdigest()
    row.prev_hash, row.mac_ok, row.well_formed = None, False, False
    try:
        record = json.loads(data)
        if not isinstance(record, dict):
            raise ValueError("not an object")
        check_record(record)
    except (ValueError, TypeError):
        return
    row.well_formed = True
    prev = record.get("prev", None)
    row.prev_hash = prev if isinstance(prev, str) and len(prev) <= 64 else None
    mac = record.get("mac")
    expected = hmac.new(key, canonical_bytes({k: v for k, v in record.items() if k != "mac"}),
                        hashlib.sha256).hexdigest()
    row.mac_ok = isinstance(mac, str) and hmac.compare_digest(mac, expected)


def _neighbour(db: Session, row: ManifestLine, below: bool) -> ManifestLine | None:
    """The nearest well-formed line of the same track below (or above) ``row``."""
    query = select(ManifestLine).where(
        ManifestLine.session_id == row.session_id, ManifestLine.track == row.track,
        ManifestLine.well_formed.is_(True))
    if below:
        query = query.where(ManifestLine.seq < row.seq).order_by(ManifestLine.seq.desc())
    else:
        query = query.where(ManifestLine.seq > row.seq).order_by(ManifestLine.seq)
    return db.scalar(query.limit(1))


def _link(row: ManifestLine, before: ManifestLine | None) -> None:
    expected = before.line_hash if before is not None else ""
    row.prev_ok = row.prev_hash is not None and row.prev_hash == expected


def _chain_in(db: Session, row: ManifestLine) -> None:
    """Check ``row`` against the chain tip below it and re-check the line above it."""
    if not row.well_formed:
        return
    _link(row, _neighbour(db, row, below=True))
    above = _neighbour(db, row, below=False)
    if above is not None:
        _link(above, row)


def _backfill(db: Session, session: ExamSession) -> None:
    """Verify lines stored without their facts (older rows, server-written lines)."""
    rows = db.scalars(select(ManifestLine).where(
        ManifestLine.session_id == session.id, ManifestLine.well_formed.is_(None))).all()
    if not rows:
        return
    key = key_bytes(session.session_key)
    for row in rows:
        _facts(row, key)
    db.flush()
    for track in {row.track for row in rows}:
        before = None
        for row in db.scalars(select(ManifestLine).where(
                ManifestLine.session_id == session.id, ManifestLine.track == track,
                ManifestLine.well_formed.is_(True)).order_by(ManifestLine.seq)):
            _link(row, before)
            before = row
    db.commit()


def verification_of(db: Session, session: ExamSession,
                    backfill: bool = True) -> ManifestVerification:
    """The session manifest's chain, MACs and numbering, from the stored facts.

    The same result as ``verify_manifest`` over the lines in (track, seq) order.
    ``backfill=False``: the caller has just made sure every line has its facts.
    """
    if backfill:
        _backfill(db, session)
    result = ManifestVerification()
    rows = db.execute(select(ManifestLine.track, ManifestLine.seq, ManifestLine.mac_ok,
                             ManifestLine.prev_ok, ManifestLine.well_formed)
                      .where(ManifestLine.session_id == session.id)
                      .order_by(ManifestLine.track, ManifestLine.seq)).all()
    for number, (track, seq, mac_ok, prev_ok, well_formed) in enumerate(rows, start=1):
        if not well_formed:
            result.malformed_lines.append(number)
            continue
        check = result.tracks.setdefault(track, TrackVerification(track))
        check.seqs.append(seq)
        if not prev_ok:
            check.bad_prev.append(seq)
        if not mac_ok:
            check.bad_mac.append(seq)
    for check in result.tracks.values():
        present = set(check.seqs)
        check.missing = missing_list(missing_ranges(present, max(present, default=-1)))
    return result


def _held_lines(db: Session, session_id: str) -> tuple[int, set[str], int]:
    """Lines and tracks the session's manifest already holds, and how many lack facts."""
    unverified = func.sum(case((ManifestLine.well_formed.is_(None), 1), else_=0))
    rows = db.execute(select(ManifestLine.track, func.count(), unverified).where(
        ManifestLine.session_id == session_id).group_by(ManifestLine.track)).all()
    return (sum(count for _track, count, _none in rows), {track for track, *_ in rows},
            sum(int(none or 0) for *_, none in rows))


@router.post("/sessions/{session_id}/manifest", response_model=ManifestReply)
def post_manifest(session_id: str, body: ManifestBatch,
                  candidate_id: int = Depends(current_candidate_id),
                  db: Session = Depends(get_db)) -> ManifestReply:
    """Store manifest lines (idempotent) and verify the chain so far."""
    session = owned_session(db, candidate_id, session_id)
    key = key_bytes(session.session_key)
    accepted, conflicts = 0, []
    held, tracks, unverified = _held_lines(db, session.id)
    if unverified:
        _backfill(db, session)  # so that the new lines chain onto verified ones
    for text in body.lines:
        text = text.rstrip("\r\n")
        try:
            if len(text.encode("utf-8")) > MAX_LINE_BYTES:
                raise ValueError("line too long")
            record = json.loads(text)
            track, seq, sha = record["track"], record["seq"], record["sha256"]
            if not (isinstance(track, str) and 0 < len(track) <= 16 and isinstance(seq, int)
                    and not isinstance(seq, bool) and 0 <= seq <= MAX_SEQ
                    and isinstance(sha, str)):
                raise ValueError("bad track/seq/sha256")
        except (ValueError, KeyError, TypeError) as exc:
            raise ApiProblem(422, "bad_manifest_line", f"Not a manifest line: {exc}") from None
        existing = db.scalar(select(ManifestLine).where(
            ManifestLine.session_id == session.id, ManifestLine.track == track,
            ManifestLine.seq == seq))
        if existing is not None:
            if existing.line != text:
                conflicts.append({"track": track, "seq": seq})
            continue
        evidence.refuse_unsigned_phone(track)
        held, tracks = held + 1, tracks | {track}
        if held > MAX_LINES_PER_SESSION or len(tracks) > MAX_TRACKS_PER_SESSION:
            raise ApiProblem(413, "manifest_too_large",
                             f"A session's manifest holds at most {MAX_LINES_PER_SESSION} "
                             f"lines in {MAX_TRACKS_PER_SESSION} tracks.")
        row = ManifestLine(session_id=session.id, track=track, seq=seq, sha256=sha[:64],
                           line=text)
        _facts(row, key)
        # Linked before it is added: the row is inserted with its chain fact, no UPDATE.
        _chain_in(db, row)  # only the new line and its neighbours: no whole-session pass
        db.add(row)
        accepted += 1
    db.commit()
    if conflicts:
        log.warning("session %s: %d manifest line(s) differ from what was received first",
                    session.id, len(conflicts))
    verification = verification_of(db, session, backfill=False)
    return ManifestReply(accepted=accepted, conflicts=conflicts,
                         verification=verification.to_dict())


@router.get("/sessions/{session_id}/recordings", response_model=RecordingsReply)
def get_recordings(session_id: str, candidate: Candidate = Depends(current_candidate),
                   db: Session = Depends(get_db)) -> RecordingsReply:
    """Per track: segments received, missing seq numbers, bytes, chain verification."""
    session = owned_session(db, candidate, session_id)
    return RecordingsReply(tracks=recordings_of(db, session))


def recordings_of(db: Session, session: ExamSession) -> dict[str, TrackState]:
    """The recordings state of ``session`` per track."""
    segments = db.scalars(select(RecordingSegment).where(
        RecordingSegment.session_id == session.id)).all()
    lines = _lines_by_track(db, session.id)
    verification = verification_of(db, session) if lines else None
    ends = evidence.track_ends(db, session.id)
    result: dict[str, TrackState] = {}
    for track in sorted({s.track for s in segments} | set(lines) | set(ends)):
        if track == ANSWERS_TRACK:  # signed answer versions, no media
            result[track] = TrackState(**answers_state(db, session, lines.get(track, []),
                                                       verification))
            continue
        got = {s.seq: s for s in segments if s.track == track}
        named = {row.seq: row for row in lines.get(track, [])}
        found = evidence.track_evidence(got, named, ends.get(track))
        missing = found["missing"]
        gaps = {"missing_ranges": found["missing_ranges"],
                "missing_count": found["missing_count"]}
        chain_ok = None
        if track in lines and verification is not None:
            check = verification.tracks.get(track)
            chain_ok = bool(check and check.ok and not verification.malformed_lines) and all(
                named[seq].sha256 == seg.sha256 for seq, seg in got.items() if seq in named)
        result[track] = TrackState(received=sorted(got), missing=missing,
                                   bytes=sum(s.bytes for s in got.values()),
                                   chain_ok=chain_ok, unsigned=found["unsigned"],
                                   late=found["late"], last_seq=found["last_seq"], **gaps)
    return result


def store_line(db: Session, session: ExamSession, text: str) -> bool:
    """Store one manifest line sent with something else (an answer); True when new.

    The caller has checked the line; a line already held for its (track, seq) is kept.
    The caller commits (a racing copy of the same line fails there as a unique violation).
    """
    text = text.rstrip("\r\n")
    record = json.loads(text)
    track, seq = record["track"], record["seq"]
    if db.scalar(select(ManifestLine.id).where(
            ManifestLine.session_id == session.id, ManifestLine.track == track,
            ManifestLine.seq == seq)) is not None:
        return False
    held, _tracks, _unverified = _held_lines(db, session.id)
    if held >= MAX_LINES_PER_SESSION:
        raise ApiProblem(413, "manifest_too_large",
                         f"A session's manifest holds at most {MAX_LINES_PER_SESSION} lines.")
    _backfill(db, session)
    row = ManifestLine(session_id=session.id, track=track, seq=seq,
                       sha256=str(record["sha256"])[:64], line=text)
    _facts(row, key_bytes(session.session_key))
    db.add(row)
    db.flush()
    _chain_in(db, row)
    return True


def record_segment(db: Session, session_id: str, track: str, seq: int, size: int,
                   sha256: str, storage_key: str) -> None:
    """Record a fully received, verified segment (the first copy of a seq stays).

    Raises:
        ApiProblem: 422 ``sha256_mismatch`` when the manifest names another sha256;
            409 ``segment_exists`` when this seq was already received.
    """
    # Core statements of single columns: this runs once per segment of every candidate.
    named = db.scalar(select(ManifestLine.sha256).where(
        ManifestLine.session_id == session_id, ManifestLine.track == track,
        ManifestLine.seq == seq))
    if named is not None and named != sha256:
        raise ApiProblem(422, "sha256_mismatch",
                         f"segment {track}/{seq} does not match its manifest line")
    held = db.scalar(select(RecordingSegment.id).where(
        RecordingSegment.session_id == session_id, RecordingSegment.track == track,
        RecordingSegment.seq == seq))
    if held is not None:  # evidence is never replaced (the tus endpoint records the attempt)
        raise ApiProblem(409, "segment_exists", f"segment {track}/{seq} was already received")
    db.execute(insert(RecordingSegment).values(
        session_id=session_id, track=track, seq=seq, bytes=size, sha256=sha256,
        storage_key=storage_key, received_at=clock.now()))
    db.commit()
