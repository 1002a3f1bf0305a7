"""Recordings: the session manifest and what arrived, per track.

- ``POST /api/v1/sessions/{sid}/manifest`` takes ``{"lines": [<manifest line>, ...]}``
  (the exact text of lines of ``manifest.jsonl``, any order, any batch size; resending a
  line is harmless) and answers ``{accepted, verification}``. A segment's line may come
  with its tus creation instead (:func:`record_carried_line`, same rules).
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

import base64
import binascii
import json
import logging

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import (
    insert,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from zhishiyun_formats.answer_chain import ANSWERS_TRACK
from zhishiyun_formats.manifest import (
    ManifestVerification,
    TrackVerification,
    key_bytes,
)
from zhishiyun_server import clock, evidence
from zhishiyun_server.answer_chain import answers_state
from zhishiyun_server.deps import current_candidate, current_candidate_id, get_db, owned_session
from zhishiyun_server.errors import ApiProblem
from zhishiyun_server.manifest_store import (
    ManifestLine,
    insert_line,
    line_count,
    line_facts,
    links,
    summary_verification,
    track_summaries,
)
from zhishiyun_server.models import Candidate, ExamSession, RecordingSegment
from zhishiyun_server.seqranges import missing_list, missing_ranges
from zhishiyun_server.session_facts import SessionFacts, forget, owned_facts
from zhishiyun_server.validation import (
    MAX_LINES_PER_SESSION,
    MAX_SEQ,
    MAX_TRACKS_PER_SESSION,
)

log = logging.getLogger(__name__)
router = APIRouter(tags=["recordings"])
MAX_LINES_PER_BATCH = 5000
MAX_LINE_BYTES = 4096


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
    for name, value in line_facts(row.line, key).items():
        setattr(row, name, value)


def _link(row: ManifestLine, before: ManifestLine | None) -> None:
    row.prev_ok = links(row.prev_hash, before.line_hash if before is not None else None)


def _backfill(db: Session, session_id: str, key: bytes) -> bool:
    """Verify lines stored without their facts (older rows, server-written lines).

    Every line of a track that had such lines is linked again, in order. No commit;
    True when there was anything to do.
    """
    rows = db.scalars(select(ManifestLine).where(
        ManifestLine.session_id == session_id, ManifestLine.well_formed.is_(None))).all()
    if not rows:
        return False
    for row in rows:
        _facts(row, key)
    db.flush()
    for track in {row.track for row in rows}:
        before = None
        for row in db.scalars(select(ManifestLine).where(
                ManifestLine.session_id == session_id, ManifestLine.track == track,
                ManifestLine.well_formed.is_(True)).order_by(ManifestLine.seq)):
            _link(row, before)
            before = row
    db.flush()
    return True


def verification_of(db: Session, session: ExamSession,
                    backfill: bool = True) -> ManifestVerification:
    """The session manifest's chain, MACs and numbering, from the stored facts.

    The same result as ``verify_manifest`` over the lines in (track, seq) order.
    ``backfill=False``: the caller has just made sure every line has its facts.
    """
    if backfill and _backfill(db, session.id, key_bytes(session.session_key)):
        db.commit()
    return _verification_of_rows(db, session.id)


def _verification_of_rows(db: Session | Connection, session_id: str) -> ManifestVerification:
    """:func:`verification_of` from every stored line's facts (any track may be incomplete)."""
    result = ManifestVerification()
    rows = db.execute(select(ManifestLine.track, ManifestLine.seq, ManifestLine.mac_ok,
                             ManifestLine.prev_ok, ManifestLine.well_formed)
                      .where(ManifestLine.session_id == session_id)
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


def _parsed(text: str) -> tuple[str, str, int, str]:
    """A posted line without its newline, and its track, seq and sha256; else 422."""
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
    return text, track, seq, sha


def _store_batch(conn: Connection, facts: SessionFacts, lines: list[tuple[str, str, int, str]]
                 ) -> tuple[int, list[dict], ManifestVerification]:
    """Insert the new lines, check the limits and verify everything; the caller commits."""
    key = key_bytes(facts.session_key)
    accepted, conflicts = 0, []
    # In (track, seq) order: racing copies of a batch take their row locks in one order (a
    # reversed copy would deadlock), and the chain facts do not depend on the order.
    for text, track, seq, sha in sorted(lines, key=lambda line: (line[1], line[2])):
        outcome = insert_line(conn, facts.id, key, track, seq, sha, text,
                              check_new=evidence.refuse_unsigned_phone)
        if outcome == "conflict":
            conflicts.append({"track": track, "seq": seq})
        accepted += outcome == "new"
    summaries = track_summaries(conn, facts.id)
    if accepted and (sum(s.lines for s in summaries) > MAX_LINES_PER_SESSION
                     or len(summaries) > MAX_TRACKS_PER_SESSION):
        raise ApiProblem(413, "manifest_too_large",
                         f"A session's manifest holds at most {MAX_LINES_PER_SESSION} "
                         f"lines in {MAX_TRACKS_PER_SESSION} tracks.")
    if any(s.unverified for s in summaries):
        with Session(bind=conn) as orm:  # joins the connection's transaction
            _backfill(orm, facts.id, key)
        return accepted, conflicts, _verification_of_rows(conn, facts.id)
    return accepted, conflicts, (summary_verification(summaries)
                                 or _verification_of_rows(conn, facts.id))


@router.post("/sessions/{session_id}/manifest", response_model=ManifestReply)
def post_manifest(session_id: str, body: ManifestBatch, request: Request,
                  candidate_id: int = Depends(current_candidate_id)) -> JSONResponse:
    """Store manifest lines (idempotent) and verify the chain so far."""
    # A connection, not an ORM session: the hot path is Core statements only, and setting
    # up and committing a session was a good part of this request's CPU.
    for _attempt in range(3):
        try:
            with request.app.state.engine.begin() as conn:
                facts = owned_facts(conn, candidate_id, session_id)
                lines = [_parsed(text) for text in body.lines]  # one bad line refuses all
                accepted, conflicts, verification = _store_batch(conn, facts, lines)
            break
        except IntegrityError:  # a racing copy of a line, or the session is gone
            forget(session_id)
    else:
        raise ApiProblem(409, "conflict", "The manifest changed while saving; try again.")
    if conflicts:
        log.warning("session %s: %d manifest line(s) differ from what was received first",
                    facts.id, len(conflicts))
    # Plain JSON already: built here rather than validated again against ManifestReply.
    return JSONResponse({"accepted": accepted, "conflicts": conflicts,
                         "verification": verification.to_dict()})


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


def store_line(conn: Connection, session_id: str, session_key: str, text: str) -> bool:
    """Store one manifest line sent with something else (an answer); True when new.

    The caller has checked the line; a line already held for its (track, seq) is kept.
    The caller commits (a racing copy of the same line fails there as a unique violation).
    """
    text, track, seq, sha = _parsed(text)
    if insert_line(conn, session_id, key_bytes(session_key), track, seq, sha, text) != "new":
        return False
    if line_count(conn, session_id) > MAX_LINES_PER_SESSION:
        raise ApiProblem(413, "manifest_too_large",
                         f"A session's manifest holds at most {MAX_LINES_PER_SESSION} lines.")
    return True


#: Outcome of a manifest line carried by a tus creation (``Zhishiyun-Manifest`` header).
CARRIED_RECORDED = "recorded"
#: Longest base64 text of a carried line: a line of MAX_LINE_BYTES and its newline.
_MAX_CARRIED = 4 * -(-(MAX_LINE_BYTES + 2) // 3)


def record_carried_line(conn: Connection, facts: SessionFacts, carried: str, track: str,
                        seq: int, sha256: str) -> str:
    """Store the manifest line a segment's tus creation carried: ``Zhishiyun-Manifest``.

    ``carried`` is the base64 text sent as metadata ``manifest``. The line is checked and
    stored as ``POST /manifest`` stores one (:func:`_parsed`, :func:`insert_line` with the
    same facts and linking, a line already held with this text is a no-op, the session's
    line limit), and more strictly: it must be well formed, verify with the session key and
    name the upload's ``track``, ``seq`` and ``sha256``. Returns ``"recorded"`` or
    ``"not-recorded; reason=<code>"``; a refused line is not stored and the upload goes on
    (the client then posts the line, where it gets the usual replies). Runs in the
    creation's transaction; a racing copy of the line (a POST) makes no unique violation
    there, the line is then found held. No commit.
    """
    reason = _carried_refusal(conn, facts, carried, track, seq, sha256)
    return CARRIED_RECORDED if reason is None else f"not-recorded; reason={reason}"


def _carried_refusal(conn: Connection, facts: SessionFacts, carried: str, track: str,
                     seq: int, sha256: str) -> str | None:
    """Why the carried line was not stored (an error code), or None when it is held now."""
    if len(carried) > _MAX_CARRIED:
        return "line_too_long"
    try:
        raw = base64.b64decode(carried, validate=True)
    except binascii.Error:
        return "bad_base64"
    if len(raw.rstrip(b"\r\n")) > MAX_LINE_BYTES:
        return "line_too_long"
    try:
        text, line_track, line_seq, line_sha = _parsed(raw.decode("utf-8"))
    except (UnicodeDecodeError, ApiProblem):
        return "bad_manifest_line"
    if (line_track, line_seq) != (track, seq):
        return "not_this_upload"
    if line_sha != sha256:
        return "sha256_mismatch"
    key = key_bytes(facts.session_key)
    checked = line_facts(text, key)
    if not checked["well_formed"]:
        return "bad_manifest_line"
    if not checked["mac_ok"]:
        return "bad_mac"
    try:
        outcome = insert_line(conn, facts.id, key, track, seq, sha256, text,
                              check_new=evidence.refuse_unsigned_phone, facts=checked,
                              limit=MAX_LINES_PER_SESSION)
    except ApiProblem as exc:
        return exc.code
    return {"new": None, "same": None, "full": "manifest_too_large"}.get(outcome, outcome)


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
