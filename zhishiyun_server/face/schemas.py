"""Request and reply bodies of the face-login calls (pydantic)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from zhishiyun_server.schemas import CandidateBrief


class ChallengeRequest(BaseModel):
    """Who wants to log in."""

    name: str = Field(min_length=1, max_length=100)
    id_number: str = Field(min_length=1, max_length=32)


class ChallengeReply(BaseModel):
    """A liveness challenge: do ``actions`` in order, ``step_seconds`` each, before expiry.

    Step 0 (``step_seconds`` of looking straight at the camera) comes before the actions;
    frames carry the step they were taken in.
    """

    challenge_id: str
    actions: list[Literal["blink", "turn_left", "turn_right", "open_mouth"]]
    step_seconds: float
    expires_at: datetime
    min_frames: int
    max_frames: int
    max_frame_bytes: int
    attempts_left: int


class CancelRequest(BaseModel):
    """The candidate cancelled the verification."""

    id_number: str = Field(min_length=1, max_length=32)


class CancelReply(BaseModel):
    """When the next verification may start."""

    cooldown_s: int


class ReviewReply(BaseModel):
    """A manual review was queued; poll it with ``secret`` (shown only once)."""

    review_id: int
    status: Literal["pending", "approved", "rejected"]
    secret: str


class ReviewStatus(BaseModel):
    """A review's state; an approved review hands out its login token once."""

    review_id: int
    status: Literal["pending", "approved", "rejected"]
    note: str = ""
    token: str | None = None
    expires_at: datetime | None = None
    candidate: CandidateBrief | None = None
