"""Face login over HTTP: challenge, verification, cancel, manual review.

``POST /auth/face/challenge``  name + ID number → a random action sequence (JSON)
``POST /auth/face``            multipart: challenge_id, name, id_number, evidence (JSON
                               ``{"frames": [{"t_ms": int, "step": int}, …]}``) and one
                               ``frames`` file part per JPEG, in the same order → token
``POST /auth/face/challenge/{id}/cancel``  the candidate gave up; one minute of cooldown
``POST /auth/face/review``     multipart: name, id_number, photo (holding the ID card)
``GET  /auth/face/review/{id}`` header ``X-Review-Secret`` → status (token once approved)

Refusals are ``{"error": {code, message, stage, attempts_left, fallback?}}``: ``stage``
is ``face``, ``liveness`` or ``match``; ``fallback`` (``password`` or ``manual_review``)
appears once no attempts are left.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time

from fastapi import APIRouter, Depends, Header, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from zhishiyun_server import clock
from zhishiyun_server.auth.routes import (
    check_rate_limit,
    login_reply,
    record_address_failure,
    record_attempt,
    release_attempt,
)
from zhishiyun_server.clientaddr import client_address
from zhishiyun_server.deps import get_db
from zhishiyun_server.errors import ApiProblem
from zhishiyun_server.face import service
from zhishiyun_server.face.engine import EngineUnavailable, embedding_to_bytes, get_engine
from zhishiyun_server.face.enrol import ensure_enrolled
from zhishiyun_server.face.liveness import FrameIn, FrameRejected, decode_jpeg, verify_burst
from zhishiyun_server.face.models import FaceChallenge, FaceReview
from zhishiyun_server.face.policy import FacePolicy
from zhishiyun_server.face.schemas import (
    CancelReply,
    CancelRequest,
    ChallengeReply,
    ChallengeRequest,
    ReviewReply,
    ReviewStatus,
)
from zhishiyun_server.organisation import organisation
from zhishiyun_server.schemas import CandidateBrief, LoginReply
from zhishiyun_server.validation import DbId, text_problem

router = APIRouter(tags=["face"])
FORM_SLACK = 256 * 1024

_FACE_FORM = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["challenge_id", "name", "id_number", "evidence", "frames"],
    "properties": {
        "challenge_id": {"type": "string"}, "name": {"type": "string"},
        "id_number": {"type": "string"},
        "evidence": {"type": "string",
                     "description": 'JSON: {"frames": [{"t_ms": int, "step": int}, ...]}'},
        "frames": {"type": "array", "items": {"type": "string", "format": "binary"}},
    }}}}}}
_REVIEW_FORM = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["name", "id_number", "photo"],
    "properties": {"name": {"type": "string"}, "id_number": {"type": "string"},
                   "photo": {"type": "string", "format": "binary"}}}}}}}


def face_policy(request: Request) -> FacePolicy:
    """The app's :class:`FacePolicy` (built from its settings by ``create_app``)."""
    return request.app.state.face_policy


def _address(request: Request) -> str:
    return client_address(request)


def _require_face_login(db: Session) -> None:
    if not organisation(db).face_login:
        raise ApiProblem(403, "face_login_disabled",
                         "Face login is not enabled by the organisation.")


def _identify(request: Request, db: Session, name: str, id_number: str):
    keys = check_rate_limit(request, service.normalise_id_number(id_number))
    candidate = service.find_candidate(db, name, id_number)
    if candidate is None:
        record_attempt(request, keys, False)
        raise ApiProblem(401, "identity_mismatch",
                         "The name and ID number do not match an enrolled candidate.")
    release_attempt(request, keys)  # a matching identity is not a failed login
    return candidate


def _exhausted(db: Session, candidate, policy: FacePolicy, address: str) -> ApiProblem | None:
    if service.attempts_left(db, candidate, policy, address) > 0:
        return None
    choice = service.fallback(organisation(db), candidate)
    how = ("Log in with your password." if choice == "password" else
           "Send a photo of yourself holding your ID card for manual review.")
    return ApiProblem(403, "face_attempts_exhausted",
                      f"Face verification failed {policy.max_failures} times. {how}",
                      attempts_left=0, fallback=choice)


@router.post("/auth/face/challenge", response_model=ChallengeReply)
def create_challenge(body: ChallengeRequest, request: Request,
                     db: Session = Depends(get_db)) -> ChallengeReply:
    """A random liveness challenge for this candidate (after cooldown and attempt checks)."""
    _require_face_login(db)
    policy = face_policy(request)
    candidate = _identify(request, db, body.name, body.id_number)
    wait = service.cooldown_left(db, candidate, policy, _address(request))
    if wait:
        raise ApiProblem(429, "face_cooldown",
                         f"You cancelled a verification. Try again in {wait} seconds.",
                         headers={"Retry-After": str(wait)}, retry_after=wait)
    problem = _exhausted(db, candidate, policy, _address(request))
    if problem:
        raise problem
    if ensure_enrolled(candidate):
        db.commit()
    if candidate.face_embedding is None and not policy.demo_enrol:
        raise ApiProblem(409, "face_not_enrolled",
                         "No usable photo of you is on file, so face login cannot work.",
                         fallback=service.fallback(organisation(db), candidate))
    try:
        get_engine().warm_up()
    except EngineUnavailable as exc:
        raise ApiProblem(503, "face_engine_unavailable",
                         "Face verification is not available on this server.") from exc
    service.prune_challenges(db)
    challenge = service.new_challenge(db, candidate, policy)
    db.commit()
    return ChallengeReply(
        challenge_id=challenge.id, actions=challenge.actions, step_seconds=policy.step_seconds,
        expires_at=challenge.expires_at, min_frames=policy.min_frames,
        max_frames=policy.max_frames, max_frame_bytes=policy.max_frame_bytes,
        attempts_left=service.attempts_left(db, candidate, policy, _address(request)))


@router.post("/auth/face/challenge/{challenge_id}/cancel", response_model=CancelReply)
def cancel_challenge(challenge_id: str, body: CancelRequest, request: Request,
                     db: Session = Depends(get_db)) -> CancelReply:
    """The candidate cancelled: the challenge dies and the cooldown starts."""
    policy = face_policy(request)
    challenge = db.get(FaceChallenge, challenge_id)
    candidate = challenge and db.get(service.Candidate, challenge.candidate_id)
    if candidate is None or candidate.id_number != service.normalise_id_number(body.id_number):
        raise ApiProblem(404, "challenge_not_found", "No such challenge.")
    if challenge.cancelled_at is None:
        challenge.cancelled_at = clock.now()
        service.record_attempt(db, candidate, policy, outcome="cancelled",
                               challenge_id=challenge.id, client_address=_address(request))
        db.commit()
    return CancelReply(cooldown_s=service.cooldown_left(db, candidate, policy, _address(request)))


def _check_length(request: Request, limit: int) -> None:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ApiProblem(413, "request_too_large",
                         f"The upload is larger than {limit // 1024} KiB.")


def _text(form, key: str, limit: int = 200) -> str:
    value = form.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise ApiProblem(422, "invalid_request", f"Invalid request: {key} is missing.")
    if text_problem(value):  # NUL cannot be stored or looked up in PostgreSQL
        raise ApiProblem(422, "invalid_request", f"Invalid request: {key} {text_problem(value)}.")
    return value.strip()


async def _read_frames(form, policy: FacePolicy) -> list[FrameIn]:
    files = [f for f in form.getlist("frames") if isinstance(f, UploadFile)]
    try:
        meta = json.loads(_text(form, "evidence", 20_000))["frames"]
        stamps = [(int(m["t_ms"]), int(m["step"])) for m in meta]
    except (ValueError, KeyError, TypeError) as exc:
        raise ApiProblem(422, "bad_evidence", "The evidence is not valid JSON.") from exc
    if len(files) > policy.max_frames:
        raise ApiProblem(413, "too_many_frames", f"Send at most {policy.max_frames} frames.")
    if len(files) < policy.min_frames or len(stamps) != len(files):
        raise ApiProblem(422, "too_few_frames",
                         f"Send at least {policy.min_frames} frames, each with its time.")
    if any(b[0] < a[0] for a, b in zip(stamps, stamps[1:], strict=False)):
        raise ApiProblem(422, "bad_evidence", "Frame times must not go backwards.")
    frames = []
    for upload, (t_ms, step) in zip(files, stamps, strict=False):
        data = await upload.read(policy.max_frame_bytes + 1)
        if len(data) > policy.max_frame_bytes:
            raise ApiProblem(413, "frame_too_large",
                             f"Each frame may be at most {policy.max_frame_bytes // 1024} KiB.")
        if data[:3] != b"\xff\xd8\xff":
            raise ApiProblem(415, "not_jpeg", "Frames must be JPEG images.")
        frames.append(FrameIn(jpeg=data, t_ms=t_ms, step=step))
    return frames


@router.post("/auth/face", response_model=LoginReply, openapi_extra=_FACE_FORM)
async def verify_face(request: Request) -> LoginReply:
    """Check a burst of frames against the challenge and the enrolled face → token."""
    policy = face_policy(request)
    _check_length(request, policy.max_frames * policy.max_frame_bytes + FORM_SLACK)
    form = await request.form(max_files=policy.max_frames + 1, max_fields=16,
                              max_part_size=32 * 1024)
    try:
        challenge_id = _text(form, "challenge_id", 40)
        name, id_number = _text(form, "name", 100), _text(form, "id_number", 32)
        frames = await _read_frames(form, policy)
    finally:
        await form.close()
    return await run_in_threadpool(_verify, request, policy, challenge_id, name, id_number,
                                   frames)


def _verify(request: Request, policy: FacePolicy, challenge_id: str, name: str,
            id_number: str, frames: list[FrameIn]) -> LoginReply:
    with request.app.state.session_factory() as db:
        _require_face_login(db)
        candidate = _identify(request, db, name, id_number)
        challenge = db.get(FaceChallenge, challenge_id)
        if challenge is None or challenge.candidate_id != candidate.id:
            raise ApiProblem(404, "challenge_not_found", "No such challenge. Start again.")
        if challenge.cancelled_at is not None or challenge.used_at is not None:
            raise ApiProblem(409, "challenge_used",
                             "This challenge was already used. Start a new verification.")
        if challenge.expires_at <= clock.now():
            raise ApiProblem(410, "challenge_expired",
                             "The challenge expired. Start a new verification.")
        problem = _exhausted(db, candidate, policy, _address(request))
        if problem:
            raise problem
        challenge.used_at = clock.now()
        db.commit()  # used once, even if the checks below crash
        if any(f.step < 0 or f.step > len(challenge.actions) for f in frames):
            raise ApiProblem(422, "bad_evidence", "A frame names a step the challenge has not.")
        started = time.perf_counter()
        try:
            verdict = verify_burst(get_engine(), frames, list(challenge.actions),
                                   service.enrolled_embedding(candidate), policy.tolerance)
        except FrameRejected as exc:
            raise ApiProblem(415, exc.code, exc.message) from exc
        except EngineUnavailable as exc:
            raise ApiProblem(503, "face_engine_unavailable",
                             "Face verification is not available on this server.") from exc
        elapsed = int((time.perf_counter() - started) * 1000)
        common = dict(challenge_id=challenge.id, frames=len(frames), duration_ms=elapsed,
                      client_address=_address(request), evidence_jpeg=verdict.frontal_jpeg,
                      distance=verdict.distance)
        if not verdict.ok:
            service.record_attempt(db, candidate, policy, outcome="refused",
                                   stage=verdict.stage, code=verdict.code, **common)
            db.commit()
            record_address_failure(request)
            left = service.attempts_left(db, candidate, policy, _address(request))
            extra = {"fallback": service.fallback(organisation(db), candidate)} if not left else {}
            if "action" in verdict.details:
                extra.update(action=verdict.details["action"], step=verdict.details["step"])
            raise ApiProblem(403, verdict.code, verdict.message, stage=verdict.stage,
                             attempts_left=left, **extra)
        outcome = "accepted"
        if candidate.face_embedding is None and policy.demo_enrol:
            candidate.face_embedding = embedding_to_bytes(verdict.embedding)
            outcome = "enrolled"
        service.record_attempt(db, candidate, policy, outcome=outcome, **common)
        return login_reply(db, candidate, "face")


@router.post("/auth/face/review", response_model=ReviewReply, status_code=202,
             openapi_extra=_REVIEW_FORM)
async def submit_review(request: Request) -> ReviewReply:
    """Queue a photo holding the ID card for staff (only once face login is exhausted)."""
    policy = face_policy(request)
    _check_length(request, policy.max_review_photo_bytes + FORM_SLACK)
    form = await request.form(max_files=1, max_fields=8, max_part_size=32 * 1024)
    try:
        name, id_number = _text(form, "name", 100), _text(form, "id_number", 32)
        photo = form.get("photo")
        if not isinstance(photo, UploadFile):
            raise ApiProblem(422, "invalid_request", "Invalid request: photo is missing.")
        data = await photo.read(policy.max_review_photo_bytes + 1)
    finally:
        await form.close()
    if len(data) > policy.max_review_photo_bytes:
        raise ApiProblem(413, "photo_too_large", "The photo is too large.")
    return await run_in_threadpool(_submit_review, request, policy, name, id_number, data)


def _submit_review(request: Request, policy: FacePolicy, name: str, id_number: str,
                   data: bytes) -> ReviewReply:
    try:
        decode_jpeg(data)
    except FrameRejected as exc:
        if exc.code != "frame_too_large":
            raise ApiProblem(415, "not_jpeg", "The photo must be a JPEG image.") from exc
    with request.app.state.session_factory() as db:
        candidate = _identify(request, db, name, id_number)
        if ensure_enrolled(candidate):
            db.commit()
        not_enrolled = candidate.face_embedding is None and not policy.demo_enrol
        if service.attempts_left(db, candidate, policy, _address(request)) > 0 and not not_enrolled:
            raise ApiProblem(403, "review_not_available",
                             "Manual review is offered only after face login has failed "
                             f"{policy.max_failures} times.")
        secret = secrets.token_urlsafe(24)
        review = FaceReview(candidate_id=candidate.id, photo_jpeg=data,
                            secret_hash=hashlib.sha256(secret.encode()).hexdigest())
        db.add(review)
        db.commit()
        return ReviewReply(review_id=review.id, status="pending", secret=secret)


@router.get("/auth/face/review/{review_id}", response_model=ReviewStatus)
def review_status(review_id: DbId, x_review_secret: str = Header(default=""),
                  db: Session = Depends(get_db)) -> ReviewStatus:
    """The review's state; the first poll after approval carries the login token."""
    review = db.get(FaceReview, review_id)
    given = hashlib.sha256(x_review_secret.encode()).hexdigest()
    if review is None or not hmac.compare_digest(given, review.secret_hash):
        raise ApiProblem(404, "review_not_found", "No such review.")
    reply = ReviewStatus(review_id=review.id, status=review.status, note=review.note)
    if review.status == "approved" and review.token_issued_at is None:
        review.token_issued_at = clock.now()
        login = login_reply(db, review.candidate, "review")
        reply.token, reply.expires_at = login.token, login.expires_at
        reply.candidate = CandidateBrief(**login.candidate.model_dump())
    return reply
