"""Console data and actions: track media, the latest picture, export, verdicts, replies."""

from __future__ import annotations

import re

import av
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from zhishiyun_server import clock
from zhishiyun_server.deps import get_db
from zhishiyun_server.errors import ApiProblem, not_found
from zhishiyun_server.help import service as help_service
from zhishiyun_server.help.models import HelpRequest
from zhishiyun_server.models import ExamSession, RecordingSegment
from zhishiyun_server.review import auth, media
from zhishiyun_server.review.auth import DbId, Staff, data_staff
from zhishiyun_server.review.export import build_export
from zhishiyun_server.review.models import VERDICTS, Verdict
from zhishiyun_server.tus.endpoint import app_storage

router = APIRouter(prefix="/review", include_in_schema=False)
TRACK = re.compile(r"^[a-z]{1,16}$")
PRIVATE = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}


def _session(db: Session, session_id: str) -> ExamSession:
    session = db.get(ExamSession, session_id)
    if session is None:
        raise not_found("session")
    return session


@router.get("/sessions/{session_id}/tracks/{track}.mp4")
def track_mp4(session_id: str, track: str, request: Request, v: str = "",
              staff: Staff = Depends(data_staff), db: Session = Depends(get_db)) -> Response:
    """The whole track as one MP4 (remuxed, cached); Range requests are answered."""
    return _track(session_id, track, "mp4", request, v, db)


@router.get("/sessions/{session_id}/tracks/{track}.webm")
def track_webm(session_id: str, track: str, request: Request, v: str = "",
               staff: Staff = Depends(data_staff), db: Session = Depends(get_db)) -> Response:
    """A WebM track (the phone's VP8) as one WebM, the chunks remuxed; with Range."""
    return _track(session_id, track, "webm", request, v, db)


def _track(session_id: str, track: str, ext: str, request: Request, v: str,
           db: Session) -> Response:
    if not TRACK.match(track):
        raise not_found("track")
    session = _session(db, session_id)
    storage = app_storage(request.app)
    data_dir = request.app.state.config.data_dir
    pieces = [] if v and media.cached(data_dir, session.id, track, v) else \
        media.timeline(db, storage, session.id, track)
    db.close()  # remuxing a long track must not hold a database connection
    try:
        path = media.track_file(data_dir, storage, session.id, track, pieces, version=v or None)
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise ApiProblem(422, "track_unplayable",
                         f"The {track} track cannot be put into one file: {exc}") from None
    if path is None:
        raise not_found("track")
    kind = media.media_type(path)
    if kind != f"video/{ext}":  # one name per track: the one its container has
        actual = kind.removeprefix("video/")
        raise ApiProblem(404, "not_found", f"The {track} track is {actual}: ask for "
                         f"{track}.{actual}.")
    return FileResponse(path, media_type=kind, headers=PRIVATE)


@router.get("/sessions/{session_id}/picture.jpg")
def picture(session_id: str, request: Request, staff: Staff = Depends(data_staff),
            db: Session = Depends(get_db)) -> Response:
    """The newest camera picture of the session (from its newest received segment)."""
    session = _session(db, session_id)
    segments = db.scalars(select(RecordingSegment).where(
        RecordingSegment.session_id == session.id, RecordingSegment.track == "camera")
        .order_by(RecordingSegment.seq.desc()).limit(3)).all()
    for segment in segments:  # the newest may be a cut-off one without a whole frame
        data = media.latest_picture(request.app.state.config.data_dir,
                                    app_storage(request.app), segment)
        if data:
            return Response(data, media_type="image/jpeg",
                            headers={**PRIVATE, "X-Segment-Seq": str(segment.seq)})
    raise ApiProblem(404, "no_picture", "No camera picture was received yet.")


@router.get("/sessions/{session_id}/export.zip")
def export_zip(session_id: str, request: Request, staff: Staff = Depends(data_staff),
               db: Session = Depends(get_db)) -> Response:
    """Segments, manifest, events, answers, report and ``SHA256SUMS`` in one ZIP."""
    session = _session(db, session_id)
    path = build_export(db, app_storage(request.app), request.app.state.config.data_dir,
                        session)
    auth.audit(db, request, staff.name, "export", session.id)
    db.commit()
    name = f"session-{session.id}.zip"
    return FileResponse(path, media_type="application/zip", filename=name, headers=PRIVATE,
                        background=BackgroundTask(path.unlink, missing_ok=True))


@router.post("/sessions/{session_id}/verdict")
def verdict(session_id: str, request: Request, csrf: str = Form("", max_length=100),
            verdict: str = Form("", max_length=16), notes: str = Form("", max_length=5000),
            staff: Staff = Depends(data_staff), db: Session = Depends(get_db)) -> Response:
    """Store a verdict with notes (audited) and go back to the session page."""
    auth.check_csrf(staff, csrf)
    session = _session(db, session_id)
    if verdict not in VERDICTS:
        raise ApiProblem(422, "invalid_verdict", f"The verdict must be one of {VERDICTS}.")
    db.add(Verdict(session_id=session.id, verdict=verdict, notes=notes.strip(),
                   staff_name=staff.name, decided_at=clock.now()))
    auth.audit(db, request, staff.name, "verdict", session.id, verdict=verdict,
               notes=notes.strip()[:500])
    db.commit()
    return RedirectResponse(f"/review/sessions/{session.id}#verdict", status_code=303)


@router.post("/help/{request_id}/reply")
def help_reply(request_id: DbId, request: Request, csrf: str = Form("", max_length=100),
               text: str = Form("", max_length=help_service.MAX_TEXT + 100),
               staff: Staff = Depends(data_staff), db: Session = Depends(get_db)) -> Response:
    """Answer a 求助 (the candidate's exam window shows it on its next poll)."""
    auth.check_csrf(staff, csrf)
    asked = db.get(HelpRequest, request_id)
    if asked is None:
        raise not_found("help request")
    auth.audit(db, request, staff.name, "help_reply", asked.session_id,
               help_request=request_id)
    help_service.reply(db, request_id, text, staff.name)  # commits the audit entry with it
    return RedirectResponse(f"/review/sessions/{asked.session_id}#help-{request_id}",
                            status_code=303)
