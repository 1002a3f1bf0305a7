"""Every version of each answer, for the session page and the export.

The answer is the newest version saved before the end (:class:`~zhishiyun_server.models.Answer`);
the history (:class:`~zhishiyun_server.models.AnswerVersion`) also holds the versions the
candidate saved before it, a version that arrived after a newer one and any saved after the
end. The page shows the answer with a collapsed list of its versions, newest first.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from zhishiyun_server import clock
from zhishiyun_server.models import Answer, AnswerTiming, AnswerVersion, ExamSession
from zhishiyun_server.review.html import h, when
from zhishiyun_server.review.i18n import t


def _version(row: AnswerVersion, current: bool) -> dict[str, Any]:
    return {"version": row.version, "content": row.content, "saved_at": row.saved_at,
            "received_at": row.received_at, "late": row.late, "delay_s": row.delay_s,
            "sha256": row.sha256, "refused": row.refused, "current": current}


def _held_only(answer: Answer, timing: AnswerTiming | None) -> dict[str, Any]:
    """The stored answer as a version when the history lacks it (written outside the API)."""
    timed = timing is not None and timing.version == answer.version
    return {"version": answer.version, "content": answer.content,
            "saved_at": timing.saved_at if timed else None, "received_at": answer.updated_at,
            "late": bool(timed and timing.late), "delay_s": timing.delay_s if timed else None,
            "sha256": None, "refused": None, "current": True}


def answer_history(db: Session, session: ExamSession) -> list[dict[str, Any]]:
    """Every answered question (sorted) with the version taken and every version saved.

    Each item: ``question_id``, ``answer`` (the version taken, or None) and ``versions``
    (newest first, the taken one marked ``current``).
    """
    answers = {a.question_id: a for a in db.scalars(
        select(Answer).where(Answer.session_id == session.id))}
    timings = {r.question_id: r for r in db.scalars(
        select(AnswerTiming).where(AnswerTiming.session_id == session.id))}
    versions: dict[str, list[dict[str, Any]]] = {}
    for row in db.scalars(select(AnswerVersion).where(AnswerVersion.session_id == session.id)
                          .order_by(AnswerVersion.question_id, AnswerVersion.version.desc())):
        held = answers.get(row.question_id)
        versions.setdefault(row.question_id, []).append(
            _version(row, held is not None and held.version == row.version))
    result = []
    for question_id in sorted(set(answers) | set(versions)):
        listed = versions.get(question_id, [])
        held = answers.get(question_id)
        if held is not None and not any(v["current"] for v in listed):
            listed.append(_held_only(held, timings.get(question_id)))
            listed.sort(key=lambda v: v["version"], reverse=True)
        current = next((v for v in listed if v["current"]), None)
        result.append({"question_id": question_id, "answer": current, "versions": listed})
    return result


def export_rows(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``answers.json`` of the export: the history with times as ISO 8601 text."""
    def iso(version: dict[str, Any]) -> dict[str, Any]:
        return {**version, "saved_at": clock.iso(version["saved_at"]),
                "received_at": clock.iso(version["received_at"])}

    return [{"question_id": q["question_id"],
             "answer": iso(q["answer"]) if q["answer"] else None,
             "versions": [iso(v) for v in q["versions"]]} for q in history]


def _marks(lang: str, version: dict[str, Any]) -> str:
    marks = []
    if version["late"] and not version["refused"]:
        delay = version["delay_s"]
        marks.append(f'<span class="late-mark">{h(t(lang, "late"))}'
                     + (f' · {h(t(lang, "delay", seconds=round(delay)))}' if delay else "")
                     + "</span>")
    if version["refused"]:
        marks.append(f'<span class="refused-mark">{h(t(lang, "refused_" + version["refused"]))}'
                     f'</span>')
    if version["current"]:
        marks.append(f'<span class="current-mark">{h(t(lang, "current_answer"))}</span>')
    return " ".join(marks)


def _version_item(lang: str, version: dict[str, Any]) -> str:
    saved = when(version["saved_at"]) if version["saved_at"] else t(lang, "saved_unknown")
    css = " ".join(c for c in ("version", "late" if version["late"] else "",
                               "refused" if version["refused"] else "",
                               "current" if version["current"] else "") if c)
    return (f'<li class="{css}" data-version="{version["version"]}">'
            f'<p class="version-head">{h(t(lang, "version"))} {version["version"]} · '
            f'{h(t(lang, "saved_at"))} {h(saved)} · {h(t(lang, "received_at"))} '
            f'{h(when(version["received_at"]))} {_marks(lang, version)}</p>'
            f'<pre class="answer">{h(version["content"])}</pre></li>')


def render(lang: str, history: list[dict[str, Any]]) -> str:
    """The answers section: each answer, with every version in a collapsed list."""
    if not history:
        return f'<p class="empty">{h(t(lang, "no_answers"))}</p>'
    items = []
    for question in history:
        answer, versions = question["answer"], question["versions"]
        shown = (f'<pre class="answer">{h(answer["content"])}</pre>' if answer
                 else f'<p class="empty">{h(t(lang, "no_answer_taken"))}</p>')
        head = (f'{h(t(lang, "question"))} {h(question["question_id"])} · '
                + (f'{h(t(lang, "version"))} {answer["version"]} · {h(t(lang, "saved_at"))} '
                   f'{h(when(answer["saved_at"]) if answer["saved_at"] else "—")} '
                   f'{_marks(lang, {**answer, "current": False})}' if answer else ""))
        listing = "".join(_version_item(lang, v) for v in versions)
        items.append(
            f'<li class="question{" late" if answer and answer["late"] else ""}" '
            f'data-question="{h(question["question_id"])}"><p class="question-head">{head}</p>'
            f'{shown}<details class="versions"><summary>'
            f'{h(t(lang, "all_versions", count=len(versions)))}</summary>'
            f'<ol class="versions">{listing}</ol></details></li>')
    return f'<ul class="answers">{"".join(items)}</ul>'
