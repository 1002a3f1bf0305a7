"""Request and reply bodies of the second camera API (:mod:`zhishiyun_server.bindings.routes`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from zhishiyun_server.validation import INT32_MAX, MAX_SEQ

#: 2100-01-01 in Unix milliseconds: later start times are not plausible.
LATEST_MS = 4_102_444_800_000


class BindingIn(BaseModel):
    """Optional: a shorter life for the code than the server's default."""

    ttl_s: int | None = Field(default=None, ge=1, le=3600)


class BindingOut(BaseModel):
    """A fresh bind code: show ``code`` and a QR code of ``qr_payload``.

    ``session_id`` is None for a code made from the exam card before entering.
    """

    session_id: str | None
    code: str
    url: str
    qr_payload: str
    expires_at: datetime


class BindingStatus(BaseModel):
    """What the desktop shows about its second camera."""

    state: str  # not_bound | bound | recording | lost
    code_active: bool
    bound_at: datetime | None
    last_seen_at: datetime | None
    last_upload_at: datetime | None
    last_upload_seq: int | None
    segments: int
    hidden: bool
    buffered: int
    lost_after_s: float
    server_time: datetime


class RedeemIn(BaseModel):
    """The bind code as typed or taken from the URL."""

    code: str = Field(min_length=1, max_length=32)


class RedeemOut(BaseModel):
    """Everything the phone page needs to record and upload."""

    credential: str
    #: None while the candidate has not entered (bound from the exam card): wait for it.
    session_id: str | None
    track: str
    exam_name: str
    candidate_name: str
    upload_url: str
    segment_s: int
    next_seq: int
    expires_at: datetime
    server_time_ms: int


class HeartbeatIn(BaseModel):
    """The phone's state: ``ready``, ``recording`` or ``stopped``."""

    state: str = Field(pattern=r"^(ready|recording|stopped)$")
    hidden: bool = False
    buffered: int = Field(default=0, ge=0, le=100000)


class HeartbeatOut(BaseModel):
    """Server time (the phone's clock offset) and whether the session is over."""

    server_time_ms: int
    finished: bool
    next_seq: int
    #: The session the phone records into; None until the candidate has entered.
    session_id: str | None = None


class PhoneSegmentIn(BaseModel):
    """One closed chunk, for the server to write its manifest line."""

    seq: int = Field(ge=0, le=MAX_SEQ)
    #: Unix milliseconds; the route also holds it to a day around the server's clock.
    start_ms: int = Field(ge=0, le=LATEST_MS)
    duration_ms: int = Field(ge=0, le=24 * 3600 * 1000)
    bytes: int = Field(ge=0, le=INT32_MAX * 1024)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    mime: str = Field(default="", max_length=100)


class PhoneSegmentOut(BaseModel):
    """The stored manifest line (exact text)."""

    line: str
