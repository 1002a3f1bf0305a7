"""The second camera's routes, its phone page at ``/phone/`` and phone access to ``/files/``.

Bind codes for the desktop; redeem, heartbeat and manifest for the phone (see the package).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime, timedelta, timezone
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.staticfiles import StaticFiles
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from zhishiyun_formats.manifest import canonical_bytes, compute_mac, format_time, line_hash
from zhishiyun_server import clock, login_limits
from zhishiyun_server.bindings.models import Binding, adopt_pending
from zhishiyun_server.bindings.schemas import (
    BindingIn,
    BindingOut,
    BindingStatus,
    HeartbeatIn,
    HeartbeatOut,
    PhoneSegmentIn,
    PhoneSegmentOut,
    RedeemIn,
    RedeemOut,
)
from zhishiyun_server.clientaddr import client_address
from zhishiyun_server.deps import (
    bearer,
    current_candidate,
    get_db,
    owned_session,
)
from zhishiyun_server.errors import ApiProblem
from zhishiyun_server.models import Candidate, Exam, ExamSession, RecordingSegment
from zhishiyun_server.organisation import organisation
from zhishiyun_server.routes.exams import ends_at

router = APIRouter(tags=["second camera"])
TRACK = "phone"
CREDENTIAL_PREFIX = "zsyp_"
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
CODE_LENGTH = 8
PHONE_DIR = Path(__file__).with_name("phone")
#: The tus project's browser client, built from npm into the page (not kept in git).
PHONE_CLIENT = Path("vendor") / "tus.min.js"
PHONE_CLIENT_MISSING = ("the phone page is not served: its tus-js-client build is missing "
                        "(run ./bootstrap.sh setup)")
log = logging.getLogger(__name__)
#: The phone may still upload what it buffered this long after the exam's end.
UPLOAD_GRACE = timedelta(hours=1)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def normalise_code(code: str) -> str:
    """Upper case without separators (what the candidate types may contain ``-`` or spaces)."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


# --- desktop side ---------------------------------------------------------------------


def _base_url(request: Request) -> str:
    public = request.app.state.config.public_url
    return (public or str(request.base_url)).rstrip("/")


@router.post("/sessions/{session_id}/bindings", response_model=BindingOut)
def create_binding(session_id: str, request: Request, body: BindingIn | None = None,
                   candidate: Candidate = Depends(current_candidate),
                   db: Session = Depends(get_db)) -> BindingOut:
    """A new single-use bind code for this session (older unused codes stop working)."""
    session = owned_session(db, candidate, session_id)
    if session.finished_at is not None:
        raise ApiProblem(409, "session_finished", "This exam session is finished.")
    if not request.app.state.phone_page_served:  # a code would lead the phone nowhere
        raise ApiProblem(503, "phone_page_unavailable", PHONE_CLIENT_MISSING)
    return issue_code(db, request, body, (Binding.session_id == session.id,),
                      session_id=session.id)


def issue_code(db: Session, request: Request, body: BindingIn | None, owner: tuple,
               **row: object) -> BindingOut:
    """A new single-use code: the unused codes matching ``owner`` stop working at once.

    ``row`` names what the new binding belongs to (its session, or its exam and candidate
    before entry).
    """
    now = clock.now()
    db.execute(update(Binding).where(*owner, Binding.redeemed_at.is_(None),
                                     Binding.code_expires_at > now).values(code_expires_at=now))
    longest = request.app.state.config.bind_code_ttl_s
    ttl = min(longest, float(body.ttl_s)) if body and body.ttl_s else longest
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    binding = Binding(code_hash=_digest(code), created_at=now,
                      code_expires_at=now + timedelta(seconds=ttl), **row)
    db.add(binding)
    db.commit()
    url = f"{_base_url(request)}/phone/#code={code}"
    return BindingOut(session_id=binding.session_id, code=f"{code[:4]}-{code[4:]}", url=url,
                      qr_payload=url, expires_at=binding.code_expires_at)


def _state(row: Binding | None, now: datetime, lost_after_s: float) -> str:
    if row is None:
        return "not_bound"
    seen = row.last_seen_at or row.redeemed_at
    if seen is None or now - seen > timedelta(seconds=lost_after_s):
        return "lost"
    return "recording" if row.phone_state == "recording" else "bound"


@router.get("/sessions/{session_id}/bindings/status", response_model=BindingStatus)
def binding_status(session_id: str, request: Request,
                   candidate: Candidate = Depends(current_candidate),
                   db: Session = Depends(get_db)) -> BindingStatus:
    """The second camera's state as the desktop shows it."""
    lost_after_s = request.app.state.config.phone_lost_s
    session = owned_session(db, candidate, session_id)
    adopt_pending(db, session)  # a phone bound from the exam card before entering
    db.commit()
    now = clock.now()
    active = db.scalar(select(Binding).where(
        Binding.session_id == session.id, Binding.redeemed_at.is_not(None),
        Binding.revoked_at.is_(None)).order_by(Binding.redeemed_at.desc()).limit(1))
    code_active = db.scalar(select(func.count(Binding.id)).where(
        Binding.session_id == session.id, Binding.redeemed_at.is_(None),
        Binding.code_expires_at > now)) > 0
    last = db.scalar(select(RecordingSegment).where(
        RecordingSegment.session_id == session.id, RecordingSegment.track == TRACK)
        .order_by(RecordingSegment.received_at.desc()).limit(1))
    count = db.scalar(select(func.count(RecordingSegment.id)).where(
        RecordingSegment.session_id == session.id, RecordingSegment.track == TRACK)) or 0
    return BindingStatus(
        state=_state(active, now, lost_after_s), code_active=code_active,
        bound_at=active.redeemed_at if active else None,
        last_seen_at=active.last_seen_at if active else None,
        last_upload_at=last.received_at if last else None,
        last_upload_seq=last.seq if last else None, segments=count,
        hidden=bool(active and active.hidden), buffered=active.buffered if active else 0,
        lost_after_s=lost_after_s, server_time=now)


# --- phone side -----------------------------------------------------------------------


#: Wrong bind codes per client address per five minutes (kept in the database).
BIND_CODE_LIMITS = login_limits.Limits(30, 300.0)
#: The bucket name wrong bind codes are counted under (not an ID number).
BIND_CODE_BUCKET = "(bind code)"


def _next_seq(db: Session, session_id: str) -> int:
    from zhishiyun_server.recordings import ManifestLine

    top = db.scalar(select(func.max(ManifestLine.seq)).where(
        ManifestLine.session_id == session_id, ManifestLine.track == TRACK))
    return 0 if top is None else top + 1


@router.post("/phone/redeem", response_model=RedeemOut)
def redeem(body: RedeemIn, request: Request, db: Session = Depends(get_db)) -> RedeemOut:
    """Turn a bind code into the phone's credential (once; a later bind revokes it)."""
    factory = request.app.state.session_factory
    attempt = login_limits.reserve(factory, BIND_CODE_LIMITS, BIND_CODE_BUCKET,
                                   client_address(request))
    now = clock.now()
    row = db.scalar(select(Binding).where(Binding.code_hash == _digest(
        normalise_code(body.code))))
    if row is None:  # the reservation stays: one wrong code
        raise ApiProblem(404, "bad_code", "This bind code is not valid. Check it on the "
                         "computer's screen.")
    login_limits.release(factory, attempt)  # a real code, even if used or expired
    if row.redeemed_at is not None:
        raise ApiProblem(409, "code_used", "This bind code was already used. Ask the "
                         "computer for a new code.")
    if row.code_expires_at <= now:
        raise ApiProblem(410, "code_expired", "This bind code has expired. Ask the computer "
                         "for a new code.")
    session = _entered(db, row)
    if session is not None and session.finished_at is not None:
        raise ApiProblem(409, "session_finished", "This exam session is finished.")
    exam = session.exam if session is not None else db.get(Exam, row.exam_id)
    person = session.candidate if session is not None else db.get(Candidate, row.candidate_id)
    # Single use even under a race: only one UPDATE finds the code unredeemed.
    claimed = db.execute(update(Binding).where(Binding.id == row.id,
                                               Binding.redeemed_at.is_(None))
                         .values(redeemed_at=now)).rowcount
    if not claimed:
        db.rollback()
        raise ApiProblem(409, "code_used", "This bind code was already used.")
    same_owner = (Binding.session_id == session.id,) if session is not None else (
        Binding.session_id.is_(None), Binding.exam_id == row.exam_id,
        Binding.candidate_id == row.candidate_id)
    db.execute(update(Binding).where(*same_owner, Binding.id != row.id,
                                     Binding.redeemed_at.is_not(None),
                                     Binding.revoked_at.is_(None)).values(revoked_at=now))
    credential = CREDENTIAL_PREFIX + secrets.token_urlsafe(32)
    expires = max(ends_at(exam), now) + UPLOAD_GRACE
    db.execute(update(Binding).where(Binding.id == row.id).values(
        credential_hash=_digest(credential), credential_expires_at=expires, last_seen_at=now,
        user_agent=request.headers.get("user-agent", "")[:300]))
    db.commit()
    login_limits.settle(factory, attempt, ok=True)
    name = person.name
    return RedeemOut(credential=credential, session_id=session.id if session else None,
                     track=TRACK, exam_name=exam.name,
                     candidate_name=name[:1] + "*" * max(1, len(name) - 1),
                     upload_url="/files/", segment_s=request.app.state.config.phone_segment_s,
                     next_seq=_next_seq(db, session.id) if session else 0, expires_at=expires,
                     server_time_ms=int(now.timestamp() * 1000))


def phone_binding(credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
                  db: Session = Depends(get_db)) -> Binding:
    """The binding a phone credential belongs to, else 401."""
    raw = credentials.credentials if credentials else ""
    row = None
    if raw.startswith(CREDENTIAL_PREFIX):
        row = db.scalar(select(Binding).where(Binding.credential_hash == _digest(raw)))
    if row is None or row.revoked_at is not None:
        raise ApiProblem(401, "phone_unbound", "This phone is no longer bound to the exam. "
                         "Scan a new code.", headers={"WWW-Authenticate": "Bearer"})
    if row.credential_expires_at is None or row.credential_expires_at <= clock.now():
        raise ApiProblem(401, "phone_expired", "The exam is over; this phone's binding ended.",
                         headers={"WWW-Authenticate": "Bearer"})
    return row


def _entered(db: Session, row: Binding) -> ExamSession | None:
    """The binding's session; a code made before entering joins it once there is one."""
    if row.session_id is None and row.exam_id is not None:
        session = db.scalar(select(ExamSession).where(
            ExamSession.exam_id == row.exam_id, ExamSession.candidate_id == row.candidate_id))
        if session is not None:
            adopt_pending(db, session)
            db.refresh(row)
    return row.session


@router.post("/phone/heartbeat", response_model=HeartbeatOut)
def heartbeat(body: HeartbeatIn, row: Binding = Depends(phone_binding),
              db: Session = Depends(get_db)) -> HeartbeatOut:
    """The phone says it is alive, what it does and whether its page is in the background."""
    now = clock.now()
    session = _entered(db, row)
    row.last_seen_at, row.phone_state = now, body.state
    row.hidden, row.buffered = body.hidden, body.buffered
    db.commit()
    if session is None:  # bound from the exam card: the candidate has not entered yet
        return HeartbeatOut(server_time_ms=int(now.timestamp() * 1000), finished=False,
                            next_seq=0, session_id=None)
    return HeartbeatOut(server_time_ms=int(now.timestamp() * 1000),
                        finished=session.finished_at is not None,
                        next_seq=_next_seq(db, session.id), session_id=session.id)


@router.post("/phone/manifest", response_model=PhoneSegmentOut)
def phone_manifest(body: PhoneSegmentIn, row: Binding = Depends(phone_binding),
                   db: Session = Depends(get_db)) -> PhoneSegmentOut:
    """Write (or repeat) the manifest line of one phone chunk, signed with the session key."""
    from zhishiyun_server.recordings import ManifestLine

    session = row.session
    if session is None:
        raise ApiProblem(409, "not_entered", "The candidate has not entered the exam yet.")
    where = (ManifestLine.session_id == session.id, ManifestLine.track == TRACK)
    same = db.scalar(select(ManifestLine).where(*where, ManifestLine.seq == body.seq))
    if same is not None:
        if same.sha256 != body.sha256:
            raise ApiProblem(409, "seq_taken", f"Chunk {body.seq} was already recorded "
                             "with other content.")
        return PhoneSegmentOut(line=same.line)
    previous = db.scalar(select(ManifestLine).where(*where).order_by(
        ManifestLine.seq.desc()).limit(1))
    if previous is not None and previous.seq > body.seq:
        raise ApiProblem(409, "out_of_order", f"Chunk {body.seq} comes after chunk "
                         f"{previous.seq}; send chunks in order.", next_seq=previous.seq + 1)
    now = clock.now()
    start = datetime.fromtimestamp(body.start_ms / 1000, timezone.utc)
    if abs(start - now) > timedelta(days=1):
        raise ApiProblem(422, "bad_start", "The chunk's start time is not plausible.")
    limit = organisation(db).max_upload_bytes
    if body.bytes > limit:  # the server signs this number: it must be one it would accept
        raise ApiProblem(422, "bad_size", f"A chunk is at most {limit} bytes.")
    record = {"seq": body.seq, "track": TRACK, "start": format_time(start),
              "duration_ms": body.duration_ms, "bytes": body.bytes, "sha256": body.sha256,
              "prev": line_hash(previous.line) if previous is not None else "",
              "signer": "server"}
    if body.mime:
        record["mime"] = body.mime
    record["mac"] = compute_mac(record, session.session_key)
    line = canonical_bytes(record).decode("utf-8")
    db.add(ManifestLine(session_id=session.id, track=TRACK, seq=body.seq,
                        sha256=body.sha256, line=line))
    row.last_seen_at = now
    db.commit()
    return PhoneSegmentOut(line=line)


# --- /files/ for phones ---------------------------------------------------------------


def _phone_caller(request: Request, raw: str):
    """The tus caller for a phone credential, held to its scope.

    A plain function the tus endpoint asks (``app.state.tus_callers``), not a dependency
    override: any override makes FastAPI rebuild every route's dependencies per request.
    """
    factory = request.app.state.session_factory
    with factory() as db:  # closed before the upload's body streams
        return _phone_scope(request, raw, db)


def _phone_scope(request: Request, raw: str, db: Session):
    from zhishiyun_server.tus.endpoint import Caller, app_storage
    from zhishiyun_server.tus.protocol import TusError, parse_metadata

    factory = request.app.state.session_factory
    expiry_s = request.app.state.config.upload_expiry_s
    row = phone_binding(HTTPAuthorizationCredentials(scheme="Bearer", credentials=raw), db)
    tus = {"Tus-Resumable": "1.0.0"}
    upload_id = request.path_params.get("upload_id")
    if request.method == "POST":
        try:
            meta = parse_metadata(request.headers.get("Upload-Metadata"))
        except TusError:
            meta = {}
        if meta.get("session_id") != row.session_id or meta.get("track") != TRACK:
            raise ApiProblem(403, "phone_scope", "A phone uploads only the phone track of "
                             "its own session.", headers=tus)
    elif upload_id:
        info = app_storage(request.app).get(upload_id)
        if info is not None and (info.metadata.get("session_id") != row.session_id
                                 or info.metadata.get("track") != TRACK):
            raise ApiProblem(404, "upload_not_found", "no such upload", headers=tus)
    if row.session is None:
        raise ApiProblem(403, "phone_scope", "The candidate has not entered the exam yet.",
                         headers=tus)
    candidate_id = row.session.candidate_id  # loaded before the commit ends the transaction
    row.last_seen_at = clock.now()
    db.commit()
    return Caller(candidate_id, factory, expiry_s)


#: The phone page runs only its own script and style and talks only to this server: an
#: injected script could read the credential that uploads into the candidate's exam.
PHONE_PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; "
                  "img-src 'self' data:; media-src 'self' blob: mediastream:; "
                  "connect-src 'self'; base-uri 'none'; form-action 'none'; "
                  "frame-ancestors 'none'")


class _PhonePage(StaticFiles):
    """The phone page; never cached, so a new server version is picked up at once."""

    async def get_response(self, path, scope):  # noqa: D102
        response = await super().get_response(path, scope)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Security-Policy"] = PHONE_PAGE_CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Permissions-Policy"] = "camera=(self), microphone=(self)"
        return response


def install(app: FastAPI, prefix: str) -> None:
    """Mount the bindings API under ``prefix``, the phone page and phone access to ``/files/``."""
    app.include_router(router, prefix=prefix)
    app.state.phone_page_served = (PHONE_DIR / PHONE_CLIENT).is_file()
    if app.state.phone_page_served:
        app.mount("/phone", _PhonePage(directory=PHONE_DIR, html=True), name="phone")
    else:
        log.error(PHONE_CLIENT_MISSING)
        app.mount("/phone", _phone_page_missing, name="phone")
    app.state.tus_callers = [*getattr(app.state, "tus_callers", ()),
                             (CREDENTIAL_PREFIX, _phone_caller)]


async def _phone_page_missing(scope, receive, send) -> None:
    """What ``/phone/`` answers while the page's tus client is not built: 503, one line."""
    response = JSONResponse({"error": {"code": "phone_page_unavailable",
                                       "message": PHONE_CLIENT_MISSING}}, status_code=503)
    await response(scope, receive, send)
