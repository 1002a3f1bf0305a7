"""The exam server's tus endpoint: who may upload, how much, and what a finished upload is.

- Every request needs the candidate's bearer token (``current_candidate``); uploads are
  recorded under the candidate's id and anyone else's upload URL answers 404.
- Creation needs metadata ``session_id`` (one of the caller's own sessions, else 404),
  ``track`` (``[a-z0-9_-]{1,16}``), ``seq`` (integer ≥ 0) and ``sha256`` (64 hex digits);
  ``filename`` is informative only and never becomes a path (storage uses server ids).
- Size limits come from the organisation (the ``upload`` section of ``/config``):
  ``max_upload_bytes`` per upload (413) and ``max_session_bytes`` per session (413).
- On completion the file's sha256 must equal the metadata's (and the manifest line's, when
  it arrived first); then the segment is recorded (:func:`zhishiyun_server.recordings.
  record_segment`). A mismatch answers 422 ``sha256_mismatch`` to the last PATCH.
- Unfinished uploads expire ``ZHISHIYUN_SERVER_UPLOAD_EXPIRY_S`` seconds (default 24 h)
  after their last write.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from fastapi import Depends, FastAPI, Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from zhishiyun_server.deps import current_candidate_id, org_limits
from zhishiyun_server.errors import ApiProblem
from zhishiyun_server.models import ExamSession, RecordingSegment
from zhishiyun_server.tus.protocol import TusError, TusHooks, TusLimits, build_tus_router
from zhishiyun_server.tus.shared import storage_for
from zhishiyun_server.tus.storage import UploadInfo, UploadStorage, sha256_of

_TRACK = re.compile(r"^[a-z0-9_-]{1,16}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Caller:
    """The authenticated candidate and a way to open database sessions."""

    candidate_id: int
    sessions: sessionmaker[Session]


def caller(request: Request, candidate_id: int = Depends(current_candidate_id)) -> Caller:
    """FastAPI dependency: the logged-in candidate (401 otherwise); holds no DB session."""
    return Caller(candidate_id, request.app.state.session_factory)


def app_storage(app: FastAPI) -> UploadStorage:
    """The app's upload storage (local disk under ``<data>/uploads`` unless set)."""
    store = getattr(app.state, "tus_storage", None)
    if store is None:
        store = app.state.tus_storage = storage_for(app.state.config, app.state.session_factory)
    return store


def _expiry_s() -> float:
    raw = os.environ.get("ZHISHIYUN_SERVER_UPLOAD_EXPIRY_S", "").strip()
    return float(raw) if raw else 24 * 3600.0


class ExamUploadHooks(TusHooks):
    """Ownership, limits and completion rules for exam recordings."""

    def owner_key(self, principal: Caller) -> str:  # noqa: D102
        return f"candidate:{principal.candidate_id}"

    def limits(self, principal: Caller) -> TusLimits:  # noqa: D102
        org = org_limits(principal.sessions)
        return TusLimits(max_size=org.max_upload_bytes, expiration_s=_expiry_s())

    def before_create(self, principal: Caller, length: int,
                      metadata: dict[str, str]) -> None:
        """Check the metadata, the session's owner and the session's size limit."""
        from zhishiyun_server.routes.meta import organisation

        track, seq = metadata.get("track", ""), metadata.get("seq", "")
        if not _TRACK.match(track) or not seq.isdigit() or \
                not _SHA256.match(metadata.get("sha256", "")):
            raise TusError(400, "bad_metadata",
                           "Upload-Metadata needs session_id, track, seq and sha256")
        with principal.sessions() as db:
            session = db.get(ExamSession, metadata.get("session_id", ""))
            if session is None or session.candidate_id != principal.candidate_id:
                raise TusError(404, "not_found", "No such session.")
            held = db.scalar(select(func.coalesce(func.sum(RecordingSegment.bytes), 0))
                             .where(RecordingSegment.session_id == session.id)) or 0
            limit = organisation(db).max_session_bytes
            if held + length > limit:
                raise TusError(413, "session_too_large",
                               f"this session would exceed {limit} bytes of recordings")

    def on_complete(self, principal: Caller, info: UploadInfo,
                    storage: UploadStorage) -> None:
        """Verify the sha256 and record the segment."""
        from zhishiyun_server.recordings import record_segment

        sha256 = sha256_of(storage, info)  # hashed on the way in when it came in one chunk
        if sha256 != info.metadata.get("sha256"):
            raise TusError(422, "sha256_mismatch",
                           "the uploaded file does not match the sha256 in its metadata")
        with principal.sessions() as db:
            try:
                record_segment(db, info.metadata["session_id"], info.metadata["track"],
                               int(info.metadata["seq"]), info.length, sha256, info.id)
            except ApiProblem as exc:
                raise TusError(exc.status, exc.code, exc.message) from None


def _storage_for(request: Request) -> UploadStorage:
    return app_storage(request.app)


#: The router ``create_app`` includes (no prefix: it serves ``/files/``).
router = build_tus_router(_storage_for, ExamUploadHooks(), principal=caller)

