"""Entering an exam: what the client reports, what the organisation refuses, what is kept.

``POST /exams/{id}/sessions`` may carry a body (:class:`EnterIn`): the devices the client
records from, the environment signals it found and one camera JPEG (base64) for the
identity check at entry. :func:`gate` refuses (403) what the exam's settings block;
:func:`record` keeps the report with the session and turns it into events. A client that
sends no body (an older one) is let in and ``devices_reported`` is false in the report.
"""

from __future__ import annotations

import base64
import binascii
import random
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from zhishiyun_server import clock
from zhishiyun_server.errors import ApiProblem
from zhishiyun_server.integrity import settings as integrity_settings
from zhishiyun_server.integrity.models import SessionIntegrity
from zhishiyun_server.models import Candidate, Event, Exam, ExamSession

STAND_INS = ("camera_file", "no_camera", "no_microphone", "file_microphone")
Severity = Literal["info", "warning", "severe"]
MAX_FRAME_BYTES = 300_000


class DevicesIn(BaseModel):
    """The devices the client records from."""

    camera: str = Field(default="", max_length=200)
    camera_backend: str = Field(default="", max_length=32)
    microphone: str = Field(default="", max_length=200)
    microphone_backend: str = Field(default="", max_length=32)
    stand_ins: list[Literal["camera_file", "no_camera", "no_microphone", "file_microphone"]] = \
        Field(default_factory=list, max_length=4)


class SignalIn(BaseModel):
    """One environment signal (``virtual_camera``, ``remote_session`` …)."""

    kind: str = Field(min_length=1, max_length=32)
    severity: Severity = "warning"
    detail: str = Field(default="", max_length=300)


class EnterIn(BaseModel):
    """Optional body of ``POST /exams/{id}/sessions``."""

    devices: DevicesIn | None = None
    environment: list[SignalIn] = Field(default_factory=list, max_length=50)
    #: One camera picture (JPEG, base64) for the identity check at entry.
    frame_jpeg: str | None = Field(default=None, max_length=MAX_FRAME_BYTES * 4 // 3 + 8)


@dataclass
class EntryFacts:
    """What :func:`gate` found, for :func:`record`."""

    body: EnterIn | None
    settings: dict[str, Any]
    identity: dict[str, Any] | None = None
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def _frame(body: EnterIn) -> bytes:
    try:
        return base64.b64decode(body.frame_jpeg or "", validate=True)
    except (binascii.Error, ValueError):
        raise ApiProblem(422, "bad_frame", "frame_jpeg is not base64.") from None


def gate(db: Session, exam: Exam, candidate: Candidate, body: EnterIn | None) -> EntryFacts:
    """Refuse an entry the exam's settings block (403 with the reason), else the facts.

    Raises:
        ApiProblem: 403 ``stand_in_not_allowed``, ``environment_blocked`` or
            ``identity_mismatch``; 422 ``identity_frame_required`` / ``bad_frame``.
    """
    values = integrity_settings.settings_for(db, exam.id)
    facts = EntryFacts(body=body, settings=values)
    devices = body.devices if body is not None else None
    if devices is not None and devices.stand_ins and not values["stand_in_devices"]:
        used = ", ".join(devices.stand_ins)
        raise ApiProblem(403, "stand_in_not_allowed",
                         f"This organisation does not allow stand-in devices ({used}): use a "
                         "real camera and microphone.", stand_ins=list(devices.stand_ins))
    blocked = [s for s in (body.environment if body else []) if
               s.kind in values["blocking_environment"]]
    if blocked:
        reasons = "; ".join(f"{s.kind}: {s.detail}" if s.detail else s.kind for s in blocked)
        raise ApiProblem(403, "environment_blocked",
                         f"This exam cannot be entered from this computer ({reasons}).",
                         signals=[s.kind for s in blocked])
    mode = values["identity_at_entry"]
    if mode != "off":
        if body is not None and body.frame_jpeg:
            from zhishiyun_server.face.identity import compare_frame

            facts.identity = compare_frame(candidate, _frame(body)).to_dict()
            db.commit()  # keep a lazy (demo) enrolment even when this entry is refused
            facts.identity["moment"] = "entry"
            if mode == "refuse" and facts.identity["result"] != "match":
                raise ApiProblem(403, "identity_mismatch",
                                 "The camera picture does not show the enrolled candidate "
                                 f"({facts.identity['result']}).",
                                 result=facts.identity["result"])
        elif mode == "refuse":
            raise ApiProblem(422, "identity_frame_required",
                             "This exam checks your face at entry: send a camera picture.")
    return facts


def schedule_next(values: dict[str, Any], rng: random.Random | None = None):
    """A random moment for the next identity check (None when they are turned off)."""
    interval = int(values.get("identity_interval_s") or 0)
    if interval <= 0:
        return None
    rng = rng or random.SystemRandom()
    return clock.now() + timedelta(seconds=rng.uniform(0.3, 1.7) * interval)


def server_event(db: Session, session_id: str, kind: str, details: dict[str, Any]) -> None:
    """Store an event the server itself observed (id ``srv-…``; the caller commits)."""
    db.add(Event(session_id=session_id, client_event_id=f"srv-{uuid.uuid4().hex}", kind=kind,
                 at=clock.now(), details=details))


def record(db: Session, session: ExamSession, facts: EntryFacts) -> None:
    """Keep what the client reported with ``session`` and record it as events (commits)."""
    body = facts.body
    row = db.get(SessionIntegrity, session.id)
    if row is None:
        row = SessionIntegrity(session_id=session.id, devices={}, stand_ins=[], environment=[])
        db.add(row)
    if body is not None and body.devices is not None:
        row.devices = {**body.devices.model_dump(exclude={"stand_ins"}), "reported": True}
        row.stand_ins = sorted(set(row.stand_ins or []) | set(body.devices.stand_ins))
    if body is not None and body.environment:
        row.environment = [s.model_dump() for s in body.environment]
    row.reported_at = clock.now()
    if row.identity_due_at is None:
        row.identity_due_at = schedule_next(facts.settings)
    if facts.identity is not None:
        server_event(db, session.id, "identity_check", facts.identity)
    db.commit()
