"""The integrity summary of one session, for ``admin session-report`` and the reviewers.

:func:`session_report` returns plain JSON-ready data: who sat what, the devices and
stand-ins the client reported, the environment, every identity check, the events counted
by kind and by severity (the severe ones listed), and per track what arrived, what is
missing, late or unsigned, and whether the chain verifies.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from zhishiyun_server import clock
from zhishiyun_server.integrity.models import SessionIntegrity
from zhishiyun_server.models import Event, ExamSession

SEVERITIES = ("severe", "warning", "info")
#: Event kinds that describe the recording environment.
ENVIRONMENT_KINDS = ("environment", "environment_changed", "virtual_camera", "virtual_audio",
                     "virtual_machine", "remote_session", "monitors_changed", "device_switched",
                     "battery_low", "keep_awake_unavailable")


class SessionNotFound(LookupError):
    """No session has that id."""


def _severity(event: Event) -> str:
    value = (event.details or {}).get("severity")
    return value if value in SEVERITIES else "info"


def _mask(id_number: str) -> str:
    return id_number[:4] + "*" * max(0, len(id_number) - 8) + id_number[-4:] \
        if len(id_number) > 8 else id_number


def _event(event: Event) -> dict[str, Any]:
    return {"kind": event.kind, "at": clock.iso(event.at), "severity": _severity(event),
            "details": dict(event.details or {})}


def _overdue(facts: SessionIntegrity | None, session: ExamSession) -> bool:
    """A check the server asked for was never answered (a client that stopped polling)."""
    from zhishiyun_server.integrity.identity import ANSWER_WITHIN_S

    if facts is None or facts.identity_due_at is None:
        return False
    end = session.finished_at or clock.now()
    return (end - facts.identity_due_at).total_seconds() > ANSWER_WITHIN_S


def session_report(db: Session, session_id: str) -> dict[str, Any]:
    """The integrity summary of ``session_id``.

    Raises:
        SessionNotFound: no such session.
    """
    from zhishiyun_server.recordings import recordings_of

    session = db.get(ExamSession, session_id)
    if session is None:
        raise SessionNotFound(session_id)
    facts = db.get(SessionIntegrity, session_id)
    events = db.scalars(select(Event).where(Event.session_id == session_id)
                        .order_by(Event.at, Event.id)).all()
    identity = [{"at": clock.iso(e.at), "moment": e.details.get("moment", "random"),
                 "result": e.details.get("result"), "distance": e.details.get("distance")}
                for e in events if e.kind == "identity_check"]
    stand_ins = sorted(set(facts.stand_ins or []) if facts else set())
    tracks = {}
    for track, state in recordings_of(db, session).items():
        tracks[track] = {"received": len(state.received), "missing": state.missing,
                         "late": state.late, "unsigned": state.unsigned,
                         "chain_ok": state.chain_ok, "bytes": state.bytes,
                         "last_seq": state.last_seq}
    by_severity = Counter(_severity(e) for e in events)
    return {
        "session_id": session.id,
        "exam": {"id": session.exam_id, "name": session.exam.name},
        "candidate": {"id": session.candidate_id, "name": session.candidate.name,
                      "id_number": _mask(session.candidate.id_number)},
        "entered_at": clock.iso(session.entered_at),
        "finished_at": clock.iso(session.finished_at) if session.finished_at else None,
        "finish_reason": session.finish_reason,
        "devices": dict(facts.devices or {}) if facts else {},
        "devices_reported": bool(facts and (facts.devices or {}).get("reported")),
        "stand_ins": stand_ins,
        "stand_in_used": bool(stand_ins),
        "environment": {
            "at_entry": list(facts.environment or []) if facts else [],
            "events": [_event(e) for e in events if e.kind in ENVIRONMENT_KINDS],
        },
        "identity_checks": identity,
        "identity_overdue": _overdue(facts, session),
        "identity_summary": dict(Counter(i["result"] for i in identity)),
        "prohibited_programs": sorted({str(e.details.get("name")) for e in events
                                       if e.kind.startswith("prohibited_program")
                                       and e.details.get("name")}),
        "events": {
            "total": len(events),
            "by_kind": dict(sorted(Counter(e.kind for e in events).items())),
            "by_severity": {s: by_severity.get(s, 0) for s in SEVERITIES},
            "severe": [_event(e) for e in events if _severity(e) == "severe"],
        },
        "tracks": tracks,
    }


def format_report(report: dict[str, Any]) -> str:
    """The report as text lines for a terminal."""
    lines = [
        f"session {report['session_id']}: {report['candidate']['name']} "
        f"({report['candidate']['id_number']}), exam {report['exam']['id']} "
        f"{report['exam']['name']}",
        f"entered {report['entered_at']}, finished {report['finished_at'] or '-'}"
        f" ({report['finish_reason'] or '-'})",
    ]
    devices = report["devices"]
    if report["devices_reported"]:
        camera = f"{devices.get('camera') or '-'} ({devices.get('camera_backend') or '?'})"
        mic = f"{devices.get('microphone') or '-'} ({devices.get('microphone_backend') or '?'})"
        lines.append(f"camera: {camera}; microphone: {mic}")
    else:
        lines.append("devices: not reported by the client")
    lines.append("stand-ins: " + (", ".join(report["stand_ins"]) if report["stand_ins"]
                                  else "none"))
    for signal in report["environment"]["at_entry"]:
        lines.append(f"environment at entry: {signal['kind']} [{signal['severity']}] "
                     f"{signal.get('detail', '')}".rstrip())
    for event in report["environment"]["events"]:
        lines.append(f"environment {event['at']}: {event['kind']} [{event['severity']}]")
    if report["identity_checks"]:
        for check in report["identity_checks"]:
            lines.append(f"identity {check['at']} ({check['moment']}): {check['result']}")
    else:
        lines.append("identity checks: none")
    if report["identity_overdue"]:
        lines.append("identity: a check the server asked for was never answered")
    if report["prohibited_programs"]:
        lines.append("prohibited programs: " + ", ".join(report["prohibited_programs"]))
    counts = report["events"]["by_severity"]
    lines.append(f"events: {report['events']['total']} (severe {counts['severe']}, warning "
                 f"{counts['warning']}, info {counts['info']})")
    for kind, count in report["events"]["by_kind"].items():
        lines.append(f"  {kind}: {count}")
    for track, state in report["tracks"].items():
        chain = {None: "no manifest", True: "ok", False: "BROKEN"}[state["chain_ok"]]
        late = ", ".join(f"{x['seq']} (+{x['late_s']:g} s)" for x in state["late"]) or "-"
        lines.append(f"track {track}: received {state['received']}, missing "
                     f"{_seqs(state['missing'])}, late {late}, unsigned "
                     f"{_seqs(state['unsigned'])}, chain {chain}")
    return "\n".join(lines)


def _seqs(values: list[int]) -> str:
    return ", ".join(str(v) for v in values) if values else "-"
