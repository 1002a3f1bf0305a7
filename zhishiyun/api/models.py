"""Typed replies of the exam server's API v1 (pydantic; unknown fields are ignored).

A reply that does not fit its model becomes ``ApiError(code="bad_reply")`` in the client.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from zhishiyun.api.wire import safe_text


class Reply(BaseModel):
    """Base of every reply model: extra fields ignored, instances immutable."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class Health(Reply):
    """``GET /health``."""

    status: str
    version: str


class ServerTime(Reply):
    """``GET /time``: milliseconds since the epoch."""

    server_time_ms: int
    server_time: datetime | None = None


class Support(Reply):
    """Support contacts."""

    phone: str = ""
    qq: str = ""
    email: str = ""
    hours: str = ""


class UploadLimits(Reply):
    """Upload size limits."""

    max_upload_bytes: int
    max_session_bytes: int


class ClientConfig(Reply):
    """``GET /config``. ``checks``/``recording`` go through ``config.merge_from_server``.

    The integrity keys (``stand_in_devices``, ``blocking_environment`` …) stay in
    ``model_extra`` for ``merge_from_server(IntegritySettings(), config.model_extra)``.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    org_name: str
    support: Support
    password_login: bool
    face_login: bool
    ntp_servers: list[str] = Field(default_factory=list)
    checks: dict[str, Any] = Field(default_factory=dict)
    recording: dict[str, Any] = Field(default_factory=dict)
    upload: UploadLimits | None = None


class Release(Reply):
    """``GET /client/release``."""

    platform: str
    latest: str
    minimum: str
    url: str
    size: int
    sha256: str
    notes: str = ""
    published_at: datetime
    manifest: str
    signature: str
    update_available: bool
    update_required: bool


class SpeedResult(Reply):
    """``POST /speedtest``."""

    bytes: int
    seconds: float


class CandidateBrief(Reply):
    """Who is logged in."""

    name: str
    id_number_masked: str


class LoginResult(Reply):
    """``POST /auth/password`` and ``POST /auth/face``."""

    token: str
    expires_at: datetime
    candidate: CandidateBrief


class Profile(Reply):
    """``GET/PATCH /me``."""

    name: str
    id_number_masked: str
    phone: str = ""
    email: str = ""
    has_photo: bool = False


class Attachment(Reply):
    """An exam attachment (``url`` is relative to the server)."""

    id: int
    filename: str
    content_type: str
    size: int
    url: str

    @field_validator("filename")
    @classmethod
    def _shown_safely(cls, value: str) -> str:
        """No control or bidi-override characters in a name the candidate sees."""
        return safe_text(value)


class Instruction(Reply):
    """The exam's spoken instruction (``url`` relative to the server; ``sha256`` checked)."""

    filename: str
    content_type: str
    size: int
    sha256: str
    url: str

    @field_validator("filename")
    @classmethod
    def _shown_safely(cls, value: str) -> str:
        """No control or bidi-override characters in a name kept on disk."""
        return safe_text(value)


class TrackSummary(Reply):
    """Segments received for a track."""

    segments: int
    bytes: int


class RecordingSummary(Reply):
    """What the server holds of a session's recordings."""

    session_id: str
    tracks: dict[str, TrackSummary] = Field(default_factory=dict)


#: Known states: upcoming, open, in_progress, finished, missed (a newer server may add more).
ExamState = str


class Exam(Reply):
    """One entry of ``GET /exams``."""

    id: int
    name: str
    kind: Literal["written", "interview"]
    entry_opens_at: datetime
    entry_closes_at: datetime
    starts_at: datetime
    duration_s: int
    ends_at: datetime | None = None
    lottery_required: bool
    lottery_number: int | None = None
    accepted: bool
    requires_second_camera: bool = False
    rules: str = ""
    state: ExamState
    session_id: str | None = None
    attachments: list[Attachment] = Field(default_factory=list)
    recordings: list[RecordingSummary] = Field(default_factory=list)
    instruction: Instruction | None = None


class ExamList(Reply):
    """``GET /exams``."""

    exams: list[Exam]


class LotteryResult(Reply):
    """``POST /exams/{id}/lottery``."""

    exam_id: int
    lottery_number: int


class AcceptResult(Reply):
    """``POST /exams/{id}/accept``."""

    exam_id: int
    accepted_at: datetime


class IdentityPoll(Reply):
    """``GET /sessions/{sid}/identity``."""

    frame_wanted: bool


class IdentityResult(Reply):
    """``POST /sessions/{sid}/identity``: match, mismatch, no_face, several_faces …"""

    result: str


class ExamSession(Reply):
    """``POST /exams/{id}/sessions``: session id and key, tus URL, recording settings."""

    session_id: str
    session_key: str
    upload_url: str
    recording: dict[str, Any]
    exam_id: int | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    entered_at: datetime | None = None
    finished_at: datetime | None = None


class Paper(Reply):
    """A paper: ``text`` inline, or a file at ``url``."""

    id: int
    position: int = 0
    kind: Literal["pdf", "image", "text"]
    title: str
    filename: str = ""

    @field_validator("title", "filename")
    @classmethod
    def _shown_safely(cls, value: str) -> str:
        """No control or bidi-override characters in what the candidate sees."""
        return safe_text(value)
    content_type: str = ""
    size: int = 0
    sha256: str = ""
    text: str | None = None
    url: str | None = None


class PaperList(Reply):
    """``GET /sessions/{sid}/papers``."""

    session_id: str
    papers: list[Paper]


class AnswerResult(Reply):
    """The stored answer after ``PUT /sessions/{sid}/answers/{qid}``."""

    question_id: str
    version: int
    content: str
    updated_at: datetime


class EventsResult(Reply):
    """``POST /sessions/{sid}/events``."""

    accepted: int
    duplicates: int


class FinishResult(Reply):
    """``POST /sessions/{sid}/finish``."""

    session_id: str
    finished_at: datetime
    reason: str
    #: The answers the server holds, as ``zhishiyun_formats.receipt`` codes them.
    answers_receipt: str = ""


class Message(Reply):
    """A message-centre entry."""

    id: int
    title: str
    body: str
    sent_at: datetime
    read: bool


class MessageList(Reply):
    """``GET /messages``."""

    messages: list[Message]
    unread: int


class TrackRecordings(Reply):
    """Per-track state in ``GET /sessions/{sid}/recordings``."""

    received: list[int] = Field(default_factory=list)
    missing: list[int] = Field(default_factory=list)
    bytes: int = 0
    chain_ok: bool | None = None


class Recordings(Reply):
    """``GET /sessions/{sid}/recordings`` (served by the upload part)."""

    tracks: dict[str, TrackRecordings]


class ManifestResult(Reply):
    """``POST /sessions/{sid}/manifest``: lines accepted and the verification so far."""

    accepted: int
    conflicts: list[dict[str, Any]] = Field(default_factory=list)
    verification: dict[str, Any] = Field(default_factory=dict)


class Ok(Reply):
    """A plain success."""

    ok: bool = True
