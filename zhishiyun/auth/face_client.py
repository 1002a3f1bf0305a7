"""The face-login calls of the exam server, and the refusals a candidate can act on.

Blocking network calls (over the API client's transport): use them off the UI thread (the
:class:`~zhishiyun.auth.face_session.FaceLoginSession` worker does).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zhishiyun.api.client import ServerClient
from zhishiyun.api.errors import ApiError
from zhishiyun.api.models import LoginResult
from zhishiyun.api.tokens import MemoryTokenStore
from zhishiyun.api.transport import Transport
from zhishiyun.errors import ZhishiyunError
from zhishiyun.i18n import N_, _

log = logging.getLogger(__name__)

#: Candidate-fit messages for the face-login refusals (English source; zh_CN in the catalog).
MESSAGES = {
    "face_multiple": N_("More than one face was seen. Make sure only you are in front of "
                        "the camera."),
    "face_not_found": N_("Your face was not seen clearly. Face the camera in good light."),
    "liveness_static": N_("The liveness check failed: the picture did not move. A photo "
                          "cannot be used."),
    "liveness_action_missing": N_("The liveness check failed: the action “{action}” was not "
                                  "seen. Follow the prompts on screen."),
    "face_mismatch": N_("Your face does not match the photo on file."),
    "face_changed": N_("The face changed during the check. Only you may be in front of the "
                       "camera."),
    "face_attempts_exhausted": N_("Face verification failed too many times."),
    "face_cooldown": N_("You cancelled the last verification. You can start again in "
                        "{retry_after} seconds."),
    "face_not_enrolled": N_("No usable photo of you is on file, so face login is not "
                            "possible."),
    "face_login_disabled": N_("Face login is not enabled by your organisation."),
    "face_engine_unavailable": N_("Face verification is not available on the exam server "
                                  "right now."),
    "identity_mismatch": N_("The name and ID number do not match any candidate. Check both."),
    "challenge_used": N_("This verification was already used. Please start again."),
    "challenge_expired": N_("The verification took too long. Please start again."),
    "challenge_not_found": N_("This verification is no longer valid. Please start again."),
    "not_jpeg": N_("The camera picture could not be sent (not a JPEG image)."),
    "frame_too_large": N_("The camera picture is too large to send."),
    "request_too_large": N_("The camera pictures are too large to send."),
    "too_many_frames": N_("Too many camera pictures were sent."),
    "too_few_frames": N_("Too few camera pictures were taken. Please start again."),
    "review_not_available": N_("Manual review is offered only after face login failed."),
    "photo_too_large": N_("The photo is too large."),
}
ACTION_NAMES = {
    "blink": N_("blink"), "turn_left": N_("turn your head left"),
    "turn_right": N_("turn your head right"), "open_mouth": N_("open your mouth"),
}
FALLBACK_HINTS = {
    "password": N_("Log in with your password instead."),
    "manual_review": N_("Send a photo of yourself holding your ID card for manual review."),
}


class FaceLoginError(ZhishiyunError):
    """A refused face login: ``code``, failed ``stage``, ``attempts_left``, ``fallback``."""

    code = "face_login_failed"

    def __init__(self, status: int, code: str, server_message: str,
                 details: dict[str, Any]) -> None:
        self.status = status
        self.server_message = server_message
        self.details = details
        self.stage = str(details.get("stage", ""))
        self.attempts_left = details.get("attempts_left")
        self.fallback = details.get("fallback")
        self.retry_after = details.get("retry_after")
        action = ACTION_NAMES.get(str(details.get("action", "")), "")
        template = MESSAGES.get(code)
        message = (_(template).format(action=_(action) if action else "",
                                      retry_after=self.retry_after or "?")
                   if template else server_message)
        hints = []
        if isinstance(self.attempts_left, int) and self.attempts_left > 0:
            hints.append(_("Attempts left: {n}.").format(n=self.attempts_left))
        if self.fallback in FALLBACK_HINTS:
            hints.append(_(FALLBACK_HINTS[self.fallback]))
        super().__init__(message, hint=" ".join(hints), code=code)


@dataclass(frozen=True)
class Challenge:
    """``POST /auth/face/challenge``: actions to do in order, after a neutral step 0."""

    challenge_id: str
    actions: tuple[str, ...]
    step_seconds: float
    min_frames: int
    max_frames: int
    max_frame_bytes: int
    attempts_left: int


@dataclass(frozen=True)
class Frame:
    """One captured frame: JPEG bytes, ms since the burst began, the step shown."""

    jpeg: bytes
    t_ms: int
    step: int


class FaceClient:
    """Face login against ``server_url`` (blocking; use off the UI thread).

    The calls go through the API client and so through the one transport (the
    organisation's CA added to the system's, the proxy, deadlines, size caps).

    Args:
        server_url: the exam server's root URL.
        transport: the client's transport (default: system CAs, no proxy setting).
        client: an API client to use instead (its transport is used).
    """

    def __init__(self, server_url: str = "", *, transport: Transport | None = None,
                 client: ServerClient | None = None) -> None:
        self.api = client or ServerClient(server_url, token_store=MemoryTokenStore(),
                                          transport=transport, retries=0)

    @classmethod
    def from_settings(cls, settings: Any, transport: Transport | None = None) -> FaceClient:
        """A face client for the configured server over the configured transport."""
        return cls(settings.server_url,
                   transport=transport or Transport.from_settings(settings))

    def _call(self, operation: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
        try:
            return operation(*args)
        except ApiError as exc:
            if exc.code in MESSAGES:
                raise FaceLoginError(exc.status, exc.code, exc.server_message,
                                     exc.details) from None
            raise

    def challenge(self, name: str, id_number: str) -> Challenge:
        """A fresh challenge (refusals: cooldown, attempts exhausted, not enrolled, …)."""
        body = self._call(self.api.face_challenge, name, id_number)
        try:
            return Challenge(challenge_id=str(body["challenge_id"]),
                             actions=tuple(str(a) for a in body["actions"]),
                             step_seconds=float(body["step_seconds"]),
                             min_frames=int(body["min_frames"]),
                             max_frames=int(body["max_frames"]),
                             max_frame_bytes=int(body["max_frame_bytes"]),
                             attempts_left=int(body["attempts_left"]))
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise ApiError(200, "bad_reply", f"challenge: {exc}") from None

    def verify(self, challenge: Challenge, name: str, id_number: str,
               frames: list[Frame]) -> LoginResult:
        """Send the burst; the login result, or :class:`FaceLoginError` saying what failed."""
        evidence = json.dumps({"frames": [{"t_ms": f.t_ms, "step": f.step} for f in frames]})
        fields = {"challenge_id": challenge.challenge_id, "name": name,
                  "id_number": id_number, "evidence": evidence}
        body = self._call(self.api.face_verify, fields,
                          [(f"{i:03d}.jpg", f.jpeg) for i, f in enumerate(frames)])
        return _login(body)

    def cancel(self, challenge_id: str, id_number: str) -> int:
        """Tell the server the candidate cancelled; returns the cooldown in seconds."""
        body = self._call(self.api.face_cancel, challenge_id, id_number)
        try:
            return int(body.get("cooldown_s", 0))
        except (TypeError, ValueError, OverflowError):
            raise ApiError(200, "bad_reply", "cooldown_s is not a number") from None

    def submit_review(self, name: str, id_number: str, photo_jpeg: bytes) -> tuple[int, str]:
        """Queue a photo holding the ID card; returns (review id, secret to poll with)."""
        body = self._call(self.api.face_review, name, id_number, photo_jpeg)
        try:
            return int(body["review_id"]), str(body["secret"])
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise ApiError(200, "bad_reply", f"review: {exc}") from None

    def review_status(self, review_id: int, secret: str) -> tuple[str, LoginResult | None]:
        """(status, login once approved — handed out only on the first poll after approval)."""
        body = self._call(self.api.face_review_status, review_id, secret)
        login = _login(body) if body.get("token") else None
        return str(body.get("status", "pending")), login


def _login(body: dict[str, Any]) -> LoginResult:
    try:
        return LoginResult.model_validate(body)
    except ValueError as exc:
        raise ApiError(200, "bad_reply", f"login: {exc}") from None
