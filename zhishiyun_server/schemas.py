"""Request and reply bodies of API v1 (pydantic); the field names are the contract."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from zhishiyun_formats.settings import IntegritySettings
from zhishiyun_server.validation import MAX_SEQ, SaneDatetime, Version

_INTEGRITY = IntegritySettings()


class Health(BaseModel):
    """Reachability probe."""

    status: str
    version: str


class ServerTime(BaseModel):
    """The server's clock: milliseconds since the Unix epoch, and the same as ISO 8601."""

    server_time_ms: int
    server_time: datetime


class Support(BaseModel):
    """Where candidates get help."""

    phone: str
    qq: str
    email: str
    hours: str


class UploadLimits(BaseModel):
    """Size limits the tus endpoint enforces."""

    max_upload_bytes: int
    max_session_bytes: int


class IntegrityConfig(BaseModel):
    """The integrity part of ``GET /config`` (top-level keys; the client merges them).

    The defaults are the shared :class:`~zhishiyun_formats.settings.IntegritySettings`;
    :mod:`zhishiyun_server.integrity.settings` fills in the organisation's values.
    """

    stand_in_devices: bool = _INTEGRITY.stand_in_devices
    blocking_environment: list[str] = Field(
        default_factory=lambda: list(_INTEGRITY.blocking_environment))
    virtual_cameras: list[str] = Field(default_factory=lambda: list(_INTEGRITY.virtual_cameras))
    virtual_audio: list[str] = Field(default_factory=lambda: list(_INTEGRITY.virtual_audio))
    identity_interval_s: int = _INTEGRITY.identity_interval_s
    prohibited_grace_s: int = _INTEGRITY.prohibited_grace_s
    battery_warn_percent: int = _INTEGRITY.battery_warn_percent


class ClientConfig(IntegrityConfig):
    """What a client needs to know about this organisation before login."""

    org_name: str
    support: Support
    password_login: bool
    face_login: bool
    ntp_servers: list[str]
    checks: dict[str, Any]
    recording: dict[str, Any]
    upload: UploadLimits
    local_retention_days: float = Field(
        default=7.0, ge=0, description="Days the client keeps a confirmed session's files")


class ReleaseInfo(BaseModel):
    """The latest client release for a platform, signed."""

    platform: str
    latest: str
    minimum: str
    url: str
    size: int
    sha256: str
    notes: str
    published_at: datetime
    manifest: str = Field(description="The exact UTF-8 JSON text the signature covers")
    signature: str = Field(description="Base64 Ed25519 signature of manifest")
    update_available: bool
    update_required: bool


class SpeedResult(BaseModel):
    """Bytes received and the seconds it took the server to read them."""

    bytes: int
    seconds: float


class PasswordLogin(BaseModel):
    """ID number and password."""

    id_number: str = Field(min_length=1, max_length=32)
    password: str = Field(min_length=1, max_length=200)


class CandidateBrief(BaseModel):
    """Who is logged in, as shown on screen."""

    name: str
    id_number_masked: str


class LoginReply(BaseModel):
    """A login token and who it belongs to."""

    token: str
    expires_at: datetime
    candidate: CandidateBrief


class Profile(BaseModel):
    """The candidate's own profile."""

    name: str
    id_number_masked: str
    phone: str
    email: str
    has_photo: bool


class ProfileUpdate(BaseModel):
    """Fields a candidate may change."""

    model_config = ConfigDict(extra="forbid")

    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=200)


class AttachmentInfo(BaseModel):
    """An exam attachment; download from ``url`` (relative to the API base)."""

    id: int
    filename: str
    content_type: str
    size: int
    url: str


class InstructionInfo(BaseModel):
    """The exam's spoken instruction; download from ``url``, check against ``sha256``."""

    filename: str
    content_type: str
    size: int
    sha256: str
    url: str


class TrackSummary(BaseModel):
    """Segments received for one track."""

    segments: int
    bytes: int


class RecordingSummary(BaseModel):
    """What the server holds of one session's recordings."""

    session_id: str
    tracks: dict[str, TrackSummary]


class ExamInfo(BaseModel):
    """One of my exams."""

    id: int
    name: str
    kind: Literal["written", "interview"]
    entry_opens_at: datetime
    entry_closes_at: datetime
    starts_at: datetime
    duration_s: int
    ends_at: datetime
    lottery_required: bool
    lottery_number: int | None
    accepted: bool
    requires_second_camera: bool
    rules: str
    state: Literal["upcoming", "open", "in_progress", "finished", "missed"]
    session_id: str | None
    attachments: list[AttachmentInfo]
    recordings: list[RecordingSummary]
    instruction: InstructionInfo | None = None


class ExamList(BaseModel):
    """My exams, soonest first."""

    exams: list[ExamInfo]


class LotteryReply(BaseModel):
    """The number drawn (the same on every later call)."""

    exam_id: int
    lottery_number: int


class AcceptReply(BaseModel):
    """When the rules were accepted."""

    exam_id: int
    accepted_at: datetime


class SessionReply(BaseModel):
    """Entering an exam: where and how to record and upload."""

    session_id: str
    session_key: str
    upload_url: str
    recording: dict[str, Any]
    exam_id: int
    starts_at: datetime
    ends_at: datetime
    entered_at: datetime
    finished_at: datetime | None


class PaperInfo(BaseModel):
    """One paper: text inline, or a file to download from ``url``."""

    id: int
    position: int
    kind: Literal["pdf", "image", "text"]
    title: str
    filename: str
    content_type: str
    size: int
    sha256: str
    text: str | None
    url: str | None


class PaperList(BaseModel):
    """The papers of a session's exam."""

    session_id: str
    papers: list[PaperInfo]


class AnswerIn(BaseModel):
    """A written answer: higher ``version`` wins."""

    version: Version
    content: str = Field(max_length=200_000)
    #: When the candidate saved it (server time as the client's clock knew it); versions
    #: saved before the end count however late they arrive.
    saved_at: datetime | None = None
    #: This version's line of the session's ``answers`` chain (zhishiyun_formats.answer_chain).
    chain: str | None = Field(default=None, max_length=4096)


class AnswerReply(BaseModel):
    """The stored answer after the call (``late``: arrived after the end, ``delay_s`` later)."""

    question_id: str
    version: int
    content: str
    updated_at: datetime
    saved_at: datetime | None = None
    late: bool = False
    delay_s: float | None = None


class EventIn(BaseModel):
    """One proctoring event; ``id`` is the client's unique id for it."""

    id: str = Field(min_length=1, max_length=64)
    kind: str = Field(min_length=1, max_length=64)
    at: SaneDatetime
    details: dict[str, Any] = Field(default_factory=dict)


class EventBatch(BaseModel):
    """Events to record (a repeated id is ignored)."""

    events: list[EventIn] = Field(max_length=1000)


class EventsReply(BaseModel):
    """How many events were new and how many were already known."""

    accepted: int
    duplicates: int


class FinishIn(BaseModel):
    """Why the session ends."""

    reason: Literal["time_up", "candidate_ended"]
    #: The last seq of each track, so a tail that never arrived shows as missing.
    last_seq: dict[Annotated[str, Field(min_length=1, max_length=16)],
                   Annotated[int, Field(ge=0, le=MAX_SEQ)]] | None = Field(
        default=None, max_length=16)


class FinishReply(BaseModel):
    """The session's end (unchanged by repeated calls)."""

    session_id: str
    finished_at: datetime
    reason: str
    #: ``XXXX-XXXX`` of the answers the server holds now (zhishiyun_formats.receipt).
    answers_receipt: str = ""


class MessageInfo(BaseModel):
    """A message in the candidate's message centre."""

    id: int
    title: str
    body: str
    sent_at: datetime
    read: bool


class MessageList(BaseModel):
    """Newest first."""

    messages: list[MessageInfo]
    unread: int


class OkReply(BaseModel):
    """Done."""

    ok: bool = True
