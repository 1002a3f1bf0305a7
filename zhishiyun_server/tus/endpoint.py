"""The exam server's tus endpoint: who may upload, how much, and what a finished upload is.

- Every request needs the candidate's bearer token (``current_candidate``); uploads are
  recorded under the candidate's id and anyone else's upload URL answers 404.
- Creation needs metadata ``session_id`` (one of the caller's own sessions, else 404),
  ``track`` (``[a-z0-9_-]{1,16}``), ``seq`` (ASCII digits, 0 to
  :data:`~zhishiyun_server.validation.MAX_SEQ`) and ``sha256`` (64 hex digits);
  ``filename`` is informative only and never becomes a path (storage uses server ids).
- Optional metadata ``manifest``: base64 of the segment's manifest line. It is recorded in
  the creation's transaction as ``POST /sessions/{sid}/manifest`` would record it, when it
  is well formed, verifies and names this upload's track, seq and sha256
  (:func:`zhishiyun_server.recordings.record_carried_line`); it is not stored with the
  upload. A line that is not recorded never refuses the upload: the 201 says
  ``Zhishiyun-Manifest: recorded`` or ``not-recorded; reason=<code>``.
- Optional metadata ``events``: base64 of the body ``POST /sessions/{sid}/events`` would
  get (the session's queued events), at most
  :data:`~zhishiyun_server.event_store.MAX_CARRIED_EVENTS_BYTES` decoded. Stored in the
  same transaction by the events route's own rules and code
  (:func:`zhishiyun_server.event_store.record_carried_events`), all or nothing; never
  refuses the upload: the 201 says ``Zhishiyun-Events: recorded`` or ``not-recorded;
  reason=<code>``.
- Size limits come from the organisation (the ``upload`` section of ``/config``):
  ``max_upload_bytes`` per upload (413) and ``max_session_bytes`` per session (413). The
  session's budget counts received segments and every unfinished upload at its declared
  length (:mod:`zhishiyun_server.tus.pending`); a session holds at most
  ``MAX_OPEN_PER_SESSION`` unfinished uploads.
- On completion the file's sha256 must equal the metadata's (and the manifest line's, when
  it arrived first); then the segment is recorded (:func:`zhishiyun_server.recordings.
  record_segment`). A mismatch answers 422 ``sha256_mismatch`` to the last PATCH and the
  rejected bytes are removed.
- The first copy of a seq is the evidence: a later upload of the same seq is recorded as a
  ``segment_reupload`` event of the session and its bytes are dropped (same content: the
  PATCH succeeds, a retry after a lost reply; other content: 409 ``segment_exists``).
- A complete upload cannot be terminated (403 ``upload_complete``), nor can an upload that
  is a received segment.
- Unfinished uploads expire ``ZHISHIYUN_SERVER_UPLOAD_EXPIRY_S`` seconds (default 24 h, at
  most 7 days) after their creation.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy import bindparam, exists, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from zhishiyun_server import clock
from zhishiyun_server.deps import bearer, current_candidate_id, org_limits
from zhishiyun_server.errors import ApiProblem
from zhishiyun_server.event_store import record_carried_events
from zhishiyun_server.models import Event, RecordingSegment
from zhishiyun_server.recordings import record_carried_line
from zhishiyun_server.session_facts import owned_facts
from zhishiyun_server.tus import pending
from zhishiyun_server.tus.protocol import (
    MAX_EXPIRATION_S,
    TusError,
    TusHooks,
    TusLimits,
    build_tus_router,
)
from zhishiyun_server.tus.shared import SharedDiskStorage
from zhishiyun_server.tus.storage import UploadInfo, UploadStorage, sha256_of
from zhishiyun_server.validation import (
    MAX_LINES_PER_SESSION,
    MAX_SEQ,
    MAX_TRACKS_PER_SESSION,
    parse_ascii_int,
)

#: Metadata key of the segment's manifest line (base64 of its exact text), and the header
#: of the creation's reply that says whether it was recorded.
MANIFEST_KEY = "manifest"
MANIFEST_HEADER = "Zhishiyun-Manifest"
#: Metadata key of the session's queued events carried by a creation, and its reply header.
EVENTS_KEY = "events"
EVENTS_HEADER = "Zhishiyun-Events"
_TRACK = re.compile(r"^[a-z0-9_-]{1,16}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SESSION_ID = re.compile(r"^[0-9A-Za-z_-]{1,40}$")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Caller:
    """The authenticated candidate and a way to open database sessions."""

    candidate_id: int
    sessions: sessionmaker[Session]
    #: Seconds an unfinished upload may be resumed (``ServerConfig.upload_expiry_s``).
    upload_expiry_s: float = 24 * 3600.0


async def caller(request: Request,
                 credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Caller:
    """FastAPI dependency: the logged-in candidate (401 otherwise); holds no DB session.

    Other credentials (a bound phone's) are accepted by ``app.state.tus_callers``: pairs
    ``(prefix, check)``; a credential starting with ``prefix`` is handed to
    ``check(request, raw_credential) -> Caller`` on a worker thread (it may use the
    database). A cached candidate token costs no worker thread at all.
    """
    raw = credentials.credentials if credentials else ""
    for prefix, check in getattr(request.app.state, "tus_callers", ()):
        if raw.startswith(prefix):
            return await run_in_threadpool(check, request, raw)
    return Caller(await current_candidate_id(request, credentials),
                  request.app.state.session_factory, request.app.state.config.upload_expiry_s)


def storage_for(config, sessions: sessionmaker[Session]) -> UploadStorage:
    """The upload storage ``config`` names (``--storage``; default: ``<data>/uploads``)."""
    target = getattr(config, "storage", "") or ""
    if target.startswith("s3://"):
        from zhishiyun_server.tus.s3 import storage_from_url

        return storage_from_url(target, sessions)
    root = Path(target) if target else Path(config.data_dir) / "uploads"
    return SharedDiskStorage(root, sessions)


def app_storage(app: FastAPI) -> UploadStorage:
    """The app's upload storage (local disk under ``<data>/uploads`` unless set)."""
    store = getattr(app.state, "tus_storage", None)
    if store is None:
        store = app.state.tus_storage = storage_for(app.state.config, app.state.session_factory)
    return store


class ExamUploadHooks(TusHooks):
    """Ownership, limits and completion rules for exam recordings."""

    def owner_key(self, principal: Caller) -> str:  # noqa: D102
        return f"candidate:{principal.candidate_id}"

    def limits(self, principal: Caller) -> TusLimits:  # noqa: D102
        org = org_limits(principal.sessions)
        return TusLimits(max_size=org.max_upload_bytes,
                         expiration_s=min(principal.upload_expiry_s, MAX_EXPIRATION_S))

    def before_create(self, principal: Caller, length: int,
                      metadata: dict[str, str]) -> None:
        """Check the metadata (the session and its limits are checked by ``after_create``)."""
        track, seq = metadata.get("track", ""), metadata.get("seq", "")
        if not _TRACK.match(track) or parse_ascii_int(seq, MAX_SEQ) is None or \
                not _SHA256.match(metadata.get("sha256", "")):
            raise TusError(400, "bad_metadata",
                           "Upload-Metadata needs session_id, track, seq (0 to "
                           f"{MAX_SEQ}) and sha256")
        if not _SESSION_ID.match(metadata.get("session_id", "")):
            raise TusError(404, "not_found", "No such session.")

    carried_metadata = frozenset({MANIFEST_KEY, EVENTS_KEY})

    def after_create(self, principal: Caller, info: UploadInfo,
                     carried: dict[str, str] | None = None) -> dict[str, str] | None:
        """Count the new upload against its session, checking owner and limits: one transaction.

        The row goes in first, locking the session's row, and then the session's usage is
        read with it; racing creations of one session thus run one after the other, and a
        creation that takes the session past a limit is rolled back. A manifest line carried
        as metadata ``manifest`` and events carried as ``events`` are stored in the same
        transaction; the reply's ``Zhishiyun-Manifest`` and ``Zhishiyun-Events`` headers say
        whether they were.
        """
        meta = info.metadata
        carried = carried or {}
        line, events = carried.get(MANIFEST_KEY), carried.get(EVENTS_KEY)
        replies: dict[str, str] = {}
        with _connect(principal) as conn:
            held = pending.admit(conn, info.id, meta["session_id"], principal.candidate_id,
                                 info.length, max(0.0, info.expires_at - info.created_at),
                                 meta["track"])
            try:
                _check_usage(held, org_limits(principal.sessions).max_session_bytes)
            except TusError:
                conn.rollback()
                raise
            if line is not None:
                facts = owned_facts(conn, principal.candidate_id, meta["session_id"])
                replies[MANIFEST_HEADER] = record_carried_line(
                    conn, facts, line, meta["track"], int(meta["seq"]), meta["sha256"])
            if events is not None:
                replies[EVENTS_HEADER] = record_carried_events(
                    conn, principal.candidate_id, meta["session_id"], events)
            conn.commit()
        return replies or None

    def on_complete(self, principal: Caller, info: UploadInfo, storage: UploadStorage,
                    lease=None) -> None:
        """Verify the sha256 and record the segment (the first copy of a seq stays)."""
        sha256 = sha256_of(storage, info)  # hashed on the way in when it came in one chunk
        meta = info.metadata
        session_id, track, seq = meta["session_id"], meta["track"], int(meta["seq"])
        if sha256 == meta.get("sha256"):
            # The usual case in one transaction of two statements (three with the lease's
            # UPDATE): the first copy of its seq, matching its manifest line (if any); the
            # pending row (and lease) goes.
            with contextlib.nullcontext(lease.conn) if lease else _connect(principal) as conn:
                try:
                    recorded = _record_first_copy(conn, session_id, track, seq, info.length,
                                                  sha256, info.id)
                except IntegrityError:  # not the first copy: decided below
                    recorded = False
                    conn.rollback()
                if recorded:
                    pending.remove(conn, [info.id], commit=lease is None)
                    if lease is not None:
                        lease.commit_recorded()
                    return
                if lease is None:
                    conn.rollback()
        if lease is not None:  # the long way runs its own transactions, under the lease
            lease.keep_lease()
        self._complete_otherwise(principal, info, storage, sha256)

    def _complete_otherwise(self, principal: Caller, info: UploadInfo,
                            storage: UploadStorage, sha256: str) -> None:
        """A completion that is not a new, matching first copy: a retry, a mismatch, a copy."""
        from zhishiyun_server.recordings import record_segment

        meta = info.metadata
        session_id, track, seq = meta["session_id"], meta["track"], int(meta["seq"])
        with principal.sessions() as db:
            first = _segment(db, session_id, track, seq)
            if first is not None and first.storage_key == info.id:
                return  # recorded by an earlier try whose reply (or offset) was lost
            if sha256 != meta.get("sha256"):
                pending.remove(db, [info.id])
                storage.delete(info.id)
                raise TusError(422, "sha256_mismatch",
                               "the uploaded file does not match the sha256 in its metadata")
            if first is None:
                # The pending row goes in the same transaction that records the segment.
                pending.remove(db, [info.id], commit=False)
                try:
                    record_segment(db, session_id, track, seq, info.length, sha256, info.id)
                    return
                except ApiProblem as exc:
                    db.rollback()
                    if exc.code != "segment_exists":
                        pending.remove(db, [info.id])
                        storage.delete(info.id)
                        raise TusError(exc.status, exc.code, exc.message) from None
                except IntegrityError:  # another upload of this seq completed meanwhile
                    db.rollback()
                first = _segment(db, session_id, track, seq)
            pending.remove(db, [info.id], commit=False)  # committed with the event below
            _record_reupload(db, info, sha256, first)
        storage.delete(info.id)
        if first.sha256 != sha256:
            raise TusError(409, "segment_exists",
                           f"segment {track}/{seq} was already received with other content")

    def may_terminate(self, principal: Caller, info: UploadInfo) -> None:
        """Refuse to terminate an upload that is a received segment."""
        with principal.sessions() as db:
            held = db.scalar(select(RecordingSegment.id).where(
                RecordingSegment.storage_key == info.id))
        if held is not None:
            raise TusError(403, "upload_complete", "a received segment cannot be terminated")

    def forgotten(self, principal: Caller, upload_ids: list[str]) -> None:  # noqa: D102
        if upload_ids:
            with principal.sessions() as db:
                pending.remove(db, upload_ids)

    def expired_uploads(self, principal: Caller) -> list[str] | None:  # noqa: D102
        with principal.sessions() as db:
            return pending.expired(db)


def _connect(principal: Caller):
    """A Core connection of the caller's database (no ORM session around Core statements)."""
    return principal.sessions.kw["bind"].connect()


def _check_usage(held: pending.Usage | None, max_session_bytes: int) -> None:
    """Refuse a creation: no such session of the caller's, or past one of its limits.

    ``held`` counts the new upload in (see :func:`pending.admit`).
    """
    if held is None:
        raise TusError(404, "not_found", "No such session.")
    if held.open_uploads > pending.MAX_OPEN_PER_SESSION:
        raise TusError(429, "too_many_uploads",
                       "finish or wait for the session's open uploads first",
                       {"Retry-After": "30"})
    if held.held_bytes > max_session_bytes:
        raise TusError(413, "session_too_large",
                       f"this session would exceed {max_session_bytes} bytes of recordings")
    if held.segments >= MAX_LINES_PER_SESSION or \
            held.tracks + (not held.track_known) > MAX_TRACKS_PER_SESSION:
        raise TusError(413, "session_too_large",
                       f"a session holds at most {MAX_LINES_PER_SESSION} segments in "
                       f"{MAX_TRACKS_PER_SESSION} tracks")


@functools.cache
def _first_copy_statement():
    """The first copy of a seq whose manifest line (if it came first) names the same sha256.

    record_segment's rules in one statement, built once. Nothing is inserted when the line
    names another sha256; an IntegrityError says the seq is already held. Either case goes
    the long way (:meth:`ExamUploadHooks._complete_otherwise`).
    """
    from zhishiyun_server.recordings import ManifestLine  # the recordings module imports us

    return insert(RecordingSegment).from_select(
        ["session_id", "track", "seq", "bytes", "sha256", "storage_key", "received_at"],
        select(*(bindparam(name, type_=column.type) for name, column in (
            ("r_session_id", RecordingSegment.session_id), ("r_track", RecordingSegment.track),
            ("r_seq", RecordingSegment.seq), ("r_bytes", RecordingSegment.bytes),
            ("r_sha256", RecordingSegment.sha256),
            ("r_storage_key", RecordingSegment.storage_key),
            ("r_received_at", RecordingSegment.received_at))))
        .where(~exists().where(ManifestLine.session_id == bindparam("r_session_id"),
                               ManifestLine.track == bindparam("r_track"),
                               ManifestLine.seq == bindparam("r_seq"),
                               ManifestLine.sha256 != bindparam("r_sha256"))))


def _record_first_copy(conn, session_id: str, track: str, seq: int, size: int, sha256: str,
                       upload_id: str) -> bool:
    """Insert the segment if it is a new seq matching its manifest line; True when done."""
    return bool(conn.execute(_first_copy_statement(), {
        "r_session_id": session_id, "r_track": track, "r_seq": seq, "r_bytes": size,
        "r_sha256": sha256, "r_storage_key": upload_id, "r_received_at": clock.now()}).rowcount)


def _segment(db: Session, session_id: str, track: str, seq: int):
    """The received segment ``track/seq`` of the session (a Core row: no ORM identity work)."""
    return db.execute(select(
        RecordingSegment.session_id, RecordingSegment.track, RecordingSegment.seq,
        RecordingSegment.sha256, RecordingSegment.storage_key).where(
        RecordingSegment.session_id == session_id, RecordingSegment.track == track,
        RecordingSegment.seq == seq)).first()


def _record_reupload(db: Session, info: UploadInfo, sha256: str, first) -> None:
    """A ``segment_reupload`` event: who tried to replace which segment, with what."""
    same = first.sha256 == sha256
    log.warning("session %s: segment %s/%s uploaded again (%s content); the first copy stays",
                first.session_id, first.track, first.seq, "same" if same else "other")
    db.add(Event(session_id=first.session_id, client_event_id=f"server-reupload-{info.id}",
                 kind="segment_reupload", at=clock.now(),
                 details={"track": first.track, "seq": first.seq, "sha256": sha256,
                          "bytes": info.length, "same_content": same,
                          "kept_sha256": first.sha256}))
    db.commit()


def _storage_for(request: Request) -> UploadStorage:
    return app_storage(request.app)


#: The router ``create_app`` includes (no prefix: it serves ``/files/``).
router = build_tus_router(_storage_for, ExamUploadHooks(), principal=caller)

