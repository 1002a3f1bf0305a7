"""The exam server's tus endpoint: who may upload, how much, and what a finished upload is.

- Every request needs the candidate's bearer token (``current_candidate``); uploads are
  recorded under the candidate's id and anyone else's upload URL answers 404.
- Creation needs metadata ``session_id`` (one of the caller's own sessions, else 404),
  ``track`` (``[a-z0-9_-]{1,16}``), ``seq`` (ASCII digits, 0 to
  :data:`~zhishiyun_server.validation.MAX_SEQ`) and ``sha256`` (64 hex digits);
  ``filename`` is informative only and never becomes a path (storage uses server ids).
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

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from zhishiyun_server import clock
from zhishiyun_server.deps import bearer, current_candidate_id, org_limits
from zhishiyun_server.errors import ApiProblem
from zhishiyun_server.models import Event, ExamSession, RecordingSegment
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
        """Check the metadata, the session's owner and the session's size limit."""
        track, seq = metadata.get("track", ""), metadata.get("seq", "")
        session_id = metadata.get("session_id", "")
        if not _TRACK.match(track) or parse_ascii_int(seq, MAX_SEQ) is None or \
                not _SHA256.match(metadata.get("sha256", "")):
            raise TusError(400, "bad_metadata",
                           "Upload-Metadata needs session_id, track, seq (0 to "
                           f"{MAX_SEQ}) and sha256")
        with principal.sessions() as db:
            session = db.get(ExamSession, session_id) if _SESSION_ID.match(session_id) else None
            if session is None or session.candidate_id != principal.candidate_id:
                raise TusError(404, "not_found", "No such session.")
            held = pending.usage(db, session.id, track)  # every count in one round trip
        if held.open_uploads >= pending.MAX_OPEN_PER_SESSION:
            raise TusError(429, "too_many_uploads",
                           "finish or wait for the session's open uploads first",
                           {"Retry-After": "30"})
        _check_budget(held.held_bytes + length, org_limits(principal.sessions).max_session_bytes)
        if held.segments >= MAX_LINES_PER_SESSION or \
                held.tracks + (not held.track_known) > MAX_TRACKS_PER_SESSION:
            raise TusError(413, "session_too_large",
                           f"a session holds at most {MAX_LINES_PER_SESSION} segments in "
                           f"{MAX_TRACKS_PER_SESSION} tracks")

    def after_create(self, principal: Caller, info: UploadInfo) -> None:
        """Count the new upload against its session's budget at its declared length."""
        session_id = info.metadata["session_id"]
        with principal.sessions() as db:
            pending.add(db, info.id, session_id, info.length, max(0.0, info.expires_at -
                                                                  info.created_at))
            try:  # two creations may have passed the first check at once
                _check_budget(pending.held_bytes(db, session_id),
                              org_limits(principal.sessions).max_session_bytes)
            except TusError:
                pending.remove(db, [info.id])
                raise

    def on_complete(self, principal: Caller, info: UploadInfo,
                    storage: UploadStorage) -> None:
        """Verify the sha256 and record the segment (the first copy of a seq stays)."""
        from zhishiyun_server.recordings import record_segment

        sha256 = sha256_of(storage, info)  # hashed on the way in when it came in one chunk
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


def _check_budget(held: int, limit: int) -> None:
    if held > limit:
        raise TusError(413, "session_too_large",
                       f"this session would exceed {limit} bytes of recordings")


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

