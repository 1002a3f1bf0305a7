"""The session page: synced players, event timeline, answers, integrity, verdict, 求助."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from zhishiyun_server import clock
from zhishiyun_server.auth.routes import mask_id_number
from zhishiyun_server.deps import get_db
from zhishiyun_server.help import service as help_service
from zhishiyun_server.models import Event, ExamSession, RecordingSegment
from zhishiyun_server.review import answers_view, auth, integrity_view
from zhishiyun_server.review.auth import Staff, page_staff
from zhishiyun_server.review.html import data_block, h, page, when
from zhishiyun_server.review.i18n import choose, t
from zhishiyun_server.review.media import container_of, timeline, version_of
from zhishiyun_server.review.models import VERDICTS, Verdict
from zhishiyun_server.review.severity import severity
from zhishiyun_server.review.summary import integrity_summary
from zhishiyun_server.tus.endpoint import app_storage

router = APIRouter(prefix="/review", include_in_schema=False)
TRACK_ORDER = ("screen", "camera", "phone")


def _tracks(request: Request, db: Session, session: ExamSession) -> dict[str, Any]:
    storage = app_storage(request.app)
    names = set(db.scalars(select(RecordingSegment.track).distinct()
                           .where(RecordingSegment.session_id == session.id)))
    tracks = {}
    for track in sorted(names, key=lambda n: (TRACK_ORDER.index(n) if n in TRACK_ORDER
                                              else 9, n)):
        pieces = timeline(db, storage, session.id, track)
        ext = container_of(storage, pieces)
        tracks[track] = {
            "url": f"/review/sessions/{session.id}/tracks/{track}.{ext}?v={version_of(pieces)}",
            "pieces": [[round(p.offset, 3), round(p.duration, 3), p.start] for p in pieces]}
    return tracks


def _players(lang: str, tracks: dict[str, Any]) -> str:
    if not tracks:
        return f'<p class="empty">{h(t(lang, "no_recording"))}</p>'
    master = "camera" if "camera" in tracks else next(iter(tracks))
    figures = []
    for track in tracks:
        controls = " controls" if track == master else ""
        muted = "" if track == master else " muted"
        figures.append(f'<figure><figcaption>{h(t(lang, track))}</figcaption>'
                       f'<video id="video-{h(track)}" data-track="{h(track)}" preload="metadata"'
                       f'{controls}{muted} playsinline></video></figure>')
    return (f'<div class="players" data-master="{h(master)}">{"".join(figures)}</div>'
            f'<div id="event-strip" class="strip" aria-hidden="true"></div>')


def _timeline(lang: str, events: list[Event]) -> str:
    if not events:
        return f'<p class="empty">{h(t(lang, "no_events"))}</p>'
    rows = []
    for event in events:
        level = severity(event.kind, event.details)
        details = json.dumps(event.details, ensure_ascii=False)[:300] if event.details else ""
        rows.append(f'<tr class="event sev-{level}" data-at="{h(clock.iso(event.at))}" '
                    f'tabindex="0"><td>{h(when(event.at))}</td>'
                    f'<td><span class="sev">{h(t(lang, "severity_" + level))}</span></td>'
                    f'<td>{h(event.kind)}</td><td class="details">{h(details)}</td></tr>')
    heads = "".join(f"<th>{h(t(lang, k))}</th>" for k in ("time", "severity", "event", "details"))
    return (f'<table class="timeline"><thead><tr>{heads}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _verdict(lang: str, staff: Staff, session: ExamSession, current: Verdict | None) -> str:
    options = "".join(
        f'<label><input type="radio" name="verdict" value="{v}"'
        f'{" checked" if current and current.verdict == v else ""} required> {h(t(lang, v))}'
        f'</label>' for v in VERDICTS)
    status = (t(lang, "decided_by", name=current.staff_name, at=when(current.decided_at))
              if current else t(lang, "no_verdict"))
    shown = (f'<p class="verdict-now verdict-{h(current.verdict)}">{h(t(lang, current.verdict))}'
             f' · {h(status)}</p>' if current else f'<p class="verdict-now">{h(status)}</p>')
    return (f'{shown}<form method="post" action="/review/sessions/{h(session.id)}/verdict" '
            f'class="verdict"><input type="hidden" name="csrf" value="{h(staff.csrf)}">'
            f'<fieldset>{options}</fieldset><label>{h(t(lang, "notes"))}'
            f'<textarea name="notes" maxlength="5000">{h(current.notes if current else "")}'
            f'</textarea></label><button type="submit">{h(t(lang, "save"))}</button></form>')


def _help(lang: str, staff: Staff, requests: list) -> str:
    if not requests:
        return f'<p class="empty">{h(t(lang, "no_help"))}</p>'
    items = []
    for request in requests:
        replies = "".join(f'<li class="reply"><b>{h(r.staff_name)}</b> '
                          f'<time>{h(when(r.created_at))}</time><p>{h(r.text)}</p></li>'
                          for r in request.replies)
        items.append(
            f'<li class="help-request" id="help-{request.id}"><time>'
            f'{h(when(request.created_at))}</time><p class="ask">{h(request.text)}</p>'
            f'<ul>{replies}</ul><form method="post" action="/review/help/{request.id}/reply">'
            f'<input type="hidden" name="csrf" value="{h(staff.csrf)}">'
            f'<textarea name="text" required maxlength="{help_service.MAX_TEXT}" '
            f'aria-label="{h(t(lang, "reply"))}"></textarea>'
            f'<button type="submit">{h(t(lang, "send_reply"))}</button></form></li>')
    return f'<ul class="help">{"".join(items)}</ul>'


@router.get("/sessions/{session_id}")
def session_page(session_id: str, request: Request, staff: Staff = Depends(page_staff),
                 db: Session = Depends(get_db)) -> Response:
    """Everything about one session on one page."""
    lang = choose(request)
    session = db.get(ExamSession, session_id)
    if session is None:
        return page(request, lang, t(lang, "not_found"), f'<p>{h(t(lang, "not_found"))}</p>',
                    csrf=staff.csrf, status=404)
    events = db.scalars(select(Event).where(Event.session_id == session.id)
                        .order_by(Event.at, Event.id)).all()
    verdict = db.scalars(select(Verdict).where(Verdict.session_id == session.id)
                         .order_by(Verdict.id.desc()).limit(1)).first()
    tracks = _tracks(request, db, session)
    person = session.candidate
    auth.audit(db, request, staff.name, "view_session", session.id)
    db.commit()
    meta = (f'<p class="meta">{h(mask_id_number(person.id_number))} · '
            f'{h(t(lang, "entered_at"))} {h(when(session.entered_at))}'
            + (f' · {h(t(lang, "finished_at"))} {h(when(session.finished_at))} '
               f'({h(session.finish_reason)})' if session.finished_at else "")
            + f' · <a class="export" href="/review/sessions/{h(session.id)}/export.zip">'
            f'{h(t(lang, "export"))}</a></p>')
    body = (f'<h1><a href="/review/exams/{session.exam_id}/wall">{h(session.exam.name)}</a> · '
            f'{h(person.name)}</h1>{meta}'
            f'<section id="player">{_players(lang, tracks)}</section>'
            f'<section id="events"><h2>{h(t(lang, "events"))} ({len(events)})</h2>'
            f'{_timeline(lang, events)}</section>'
            f'<div class="columns"><section id="answers"><h2>{h(t(lang, "answers"))}</h2>'
            f'{answers_view.render(lang, answers_view.answer_history(db, session))}</section>'
            f'<section id="integrity"><h2>{h(t(lang, "integrity"))}</h2>'
            f'{integrity_view.render(lang, integrity_summary(db, session))}</section></div>'
            f'<div class="columns"><section id="verdict"><h2>{h(t(lang, "verdict"))}</h2>'
            f'{_verdict(lang, staff, session, verdict)}</section>'
            f'<section id="help"><h2>{h(t(lang, "help"))}</h2>'
            f'{_help(lang, staff, help_service.requests_of(db, session.id))}</section></div>'
            + data_block("session-data", {"tracks": tracks,
                                          "entered_at": clock.iso(session.entered_at)}))
    return page(request, lang, person.name, body, csrf=staff.csrf, scripts=("session.js",))
