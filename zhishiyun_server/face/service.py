"""Face-login rules on the database: challenges, attempt counting, cooldown, fallback, audit."""

from __future__ import annotations

import logging
import random
import secrets
from datetime import timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from zhishiyun_server import clock
from zhishiyun_server.face.engine import embedding_from_bytes
from zhishiyun_server.face.liveness import ACTIONS
from zhishiyun_server.face.models import FaceAttempt, FaceChallenge
from zhishiyun_server.face.policy import FacePolicy
from zhishiyun_server.models import Candidate, Organisation

log = logging.getLogger(__name__)
_random = random.SystemRandom()


def normalise_id_number(id_number: str) -> str:
    """ID numbers are compared upper-case without surrounding spaces."""
    return id_number.strip().upper()


def find_candidate(db: Session, name: str, id_number: str) -> Candidate | None:
    """The candidate with this ID number whose name matches (None otherwise)."""
    row = db.scalar(select(Candidate).where(
        Candidate.id_number == normalise_id_number(id_number)))
    if row is None or row.name.strip() != name.strip():
        return None
    return row


#: Refused face attempts from every client together, in multiples of the per-client limit,
#: before face login stops for the candidate everywhere.
GLOBAL_FAILURE_FACTOR = 10


def failures(db: Session, candidate: Candidate, policy: FacePolicy,
             client_address: str | None = None) -> int:
    """Refused attempts since the candidate's last success, within the failure window.

    With ``client_address``, only that client's refusals count (a stranger elsewhere who
    knows the name and ID number cannot use up the candidate's attempts), until all clients
    together reach ``GLOBAL_FAILURE_FACTOR`` times the limit.
    """
    since = clock.now() - timedelta(seconds=policy.failure_window_s)
    last_ok = db.scalar(select(func.max(FaceAttempt.at)).where(
        FaceAttempt.candidate_id == candidate.id,
        FaceAttempt.outcome.in_(("accepted", "enrolled", "review_approved"))))
    if last_ok is not None and last_ok > since:
        since = last_ok
    refused = select(func.count(FaceAttempt.id)).where(
        FaceAttempt.candidate_id == candidate.id, FaceAttempt.outcome == "refused",
        FaceAttempt.at > since)
    total = db.scalar(refused) or 0
    if client_address is None or total >= policy.max_failures * GLOBAL_FAILURE_FACTOR:
        return total
    return db.scalar(refused.where(FaceAttempt.client_address == client_address)) or 0


def attempts_left(db: Session, candidate: Candidate, policy: FacePolicy,
                  client_address: str | None = None) -> int:
    """How many more face attempts the candidate has (from that client) before the fallback."""
    return max(0, policy.max_failures - failures(db, candidate, policy, client_address))


def fallback(org: Organisation, candidate: Candidate) -> str:
    """``password`` where the organisation allows it and the candidate has one, else review."""
    if org.password_login and candidate.password_hash:
        return "password"
    return "manual_review"


def cooldown_left(db: Session, candidate: Candidate, policy: FacePolicy,
                  client_address: str | None = None) -> int:
    """Seconds until a new verification may start after the last cancelled one.

    With ``client_address``, only that client's cancels count: a stranger cancelling a
    challenge of their own does not hold the candidate back.
    """
    cancels = select(func.max(FaceAttempt.at)).where(
        FaceAttempt.candidate_id == candidate.id, FaceAttempt.outcome == "cancelled")
    if client_address is not None:
        cancels = cancels.where(FaceAttempt.client_address == client_address)
    last = db.scalar(cancels)
    if last is None:
        return 0
    left = (last + timedelta(seconds=policy.cancel_cooldown_s) - clock.now()).total_seconds()
    return max(0, int(left + 0.999))


def new_challenge(db: Session, candidate: Candidate, policy: FacePolicy) -> FaceChallenge:
    """A fresh challenge. Caller commits.

    Open challenges of the same candidate stay usable: whoever asked for one holds its
    random id, and a stranger who knows the candidate's name and ID number must not be able
    to spoil the candidate's own verification by asking for another.
    """
    now = clock.now()
    count = max(1, min(policy.actions, len(ACTIONS)))
    actions = _random.sample(ACTIONS, count)
    # Left then right (or the reverse) back to back is hard to do well: keep them apart.
    if count == 2 and set(actions) == {"turn_left", "turn_right"}:
        actions[1] = _random.choice(("blink", "open_mouth"))
    challenge = FaceChallenge(
        id=secrets.token_hex(16), candidate_id=candidate.id, actions=actions, created_at=now,
        expires_at=now + timedelta(seconds=policy.challenge_seconds()))
    db.add(challenge)
    return challenge


def record_attempt(db: Session, candidate: Candidate, policy: FacePolicy, *, outcome: str,
                   challenge_id: str | None = None, stage: str = "", code: str = "",
                   distance: float | None = None, frames: int = 0, duration_ms: int = 0,
                   client_address: str = "", evidence_jpeg: bytes | None = None) -> None:
    """Write one audit row (the image only when retention allows). Caller commits."""
    db.add(FaceAttempt(
        candidate_id=candidate.id, challenge_id=challenge_id, outcome=outcome, stage=stage,
        code=code, distance=distance, frames=frames, duration_ms=duration_ms,
        client_address=client_address,
        evidence_jpeg=evidence_jpeg if policy.retention_days > 0 else None))
    purge_images(db, policy)
    log.info("face login candidate=%s outcome=%s stage=%s code=%s distance=%s frames=%d "
             "ms=%d", candidate.id, outcome, stage or "-", code or "-",
             f"{distance:.3f}" if distance is not None else "-", frames, duration_ms)


def purge_images(db: Session, policy: FacePolicy) -> None:
    """Drop attempt images older than the retention period (all of them at 0 days)."""
    cutoff = clock.now() - timedelta(days=policy.retention_days)
    db.execute(update(FaceAttempt).where(FaceAttempt.evidence_jpeg.is_not(None),
                                         FaceAttempt.at < cutoff)
               .values(evidence_jpeg=None))


def prune_challenges(db: Session) -> None:
    """Forget challenges that expired more than a day ago (cooldown needs only recent ones)."""
    db.execute(delete(FaceChallenge).where(
        FaceChallenge.expires_at < clock.now() - timedelta(days=1)))


def enrolled_embedding(candidate: Candidate):
    """The candidate's stored embedding as a vector, or None when not enrolled."""
    if not candidate.face_embedding:
        return None
    return embedding_from_bytes(candidate.face_embedding)
