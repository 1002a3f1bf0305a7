"""The integrity summary as HTML: tracks, identity, stand-ins, environment, event counts.

Works on both summaries :func:`zhishiyun_server.review.summary.integrity_summary` returns
(the integrity part's report or the console's own); the whole report is one click away.
"""

from __future__ import annotations

import json
from typing import Any

from zhishiyun_server.review.html import h
from zhishiyun_server.review.i18n import t
from zhishiyun_server.review.severity import severity


def _seqs(values: Any) -> str:
    if not values:
        return "—"
    values = list(values)
    return h(", ".join(str(v) for v in values[:20]) + (" …" if len(values) > 20 else ""))


def _chain(lang: str, value: Any) -> str:
    word, css = {True: ("chain_ok", "ok"), False: ("chain_bad", "bad")}.get(
        value, ("chain_none", ""))
    return f'<span class="{css}">{h(t(lang, word))}</span>'


def _tracks(lang: str, tracks: dict[str, Any]) -> str:
    if not tracks:
        return f'<p class="empty">{h(t(lang, "no_recording"))}</p>'
    heads = "".join(f"<th>{h(t(lang, k))}</th>" for k in (
        "track", "received", "missing", "late_lines", "unsigned", "chain"))
    rows = "".join(
        f'<tr data-track="{h(name)}"><td>{h(t(lang, name))}</td>'
        f'<td class="num">{h(state.get("received"))}</td><td>{_seqs(state.get("missing"))}</td>'
        f'<td>{_seqs(_seq_list(state.get("late")))}</td><td>{_seqs(state.get("unsigned"))}</td>'
        f'<td>{_chain(lang, state.get("chain_ok"))}</td></tr>'
        for name, state in tracks.items())
    return f'<table class="tracks"><thead><tr>{heads}</tr></thead><tbody>{rows}</tbody></table>'


def _seq_list(values: Any) -> list:
    """Late lines are seq numbers or ``{seq, ...}`` records."""
    return [v.get("seq") if isinstance(v, dict) else v for v in (values or [])]


def _signal(lang: str, item: dict[str, Any]) -> str:
    kind = str(item.get("kind", ""))
    level = severity(kind, item if "severity" in item else item.get("details"))
    detail = item.get("detail") or item.get("details") or ""
    if isinstance(detail, (dict, list)):
        detail = json.dumps(detail, ensure_ascii=False)[:160]
    return (f'<li class="sev-{level}"><span class="sev">{h(t(lang, "severity_" + level))}'
            f'</span> {h(kind)} <span class="details">{h(detail)}</span></li>')


def _list(lang: str, items: list, title: str) -> str:
    body = "".join(_signal(lang, i) for i in items[:30] if isinstance(i, dict)) or "<li>—</li>"
    return f'<h3>{h(t(lang, title))}</h3><ul class="signals">{body}</ul>'


def _identity_level(result: Any) -> str:
    if result in ("mismatch", "stand_in", "different_person"):
        return "critical"
    return "info" if result in ("match", "ok", "pass", "passed") else "warning"


def render(lang: str, report: dict[str, Any]) -> str:
    """HTML of ``report`` (either summary form)."""
    parts = [_tracks(lang, report.get("tracks") or {})]
    identity = report.get("identity_checks", report.get("identity")) or []
    parts.append(_list(lang, [{"kind": i.get("kind", "identity_check"),
                               "detail": " ".join(str(i.get(k)) for k in (
                                   "moment", "result", "distance") if i.get(k) is not None),
                               "severity": _identity_level(i.get("result"))}
                              for i in identity], "identity"))
    environment = report.get("environment") or []
    if isinstance(environment, dict):
        signals = [s for s in environment.get("at_entry") or [] if isinstance(s, dict)]
        environment = signals + list(environment.get("events") or [])
    parts.append(_list(lang, environment, "environment"))
    stand_ins = report.get("stand_ins") or []
    parts.append(f'<h3>{h(t(lang, "stand_ins"))}</h3><p>{_seqs(stand_ins)}</p>')
    counts = (report.get("events") or {}).get("by_severity") if isinstance(
        report.get("events"), dict) else None
    if counts:
        text = " · ".join(f"{t(lang, k)} {v}" for k, v in counts.items())
        parts.append(f'<p class="counts">{h(text)}</p>')
    raw = json.dumps(report, ensure_ascii=False, indent=1, default=str)
    parts.append(f'<details><summary>{h(t(lang, "whole_report"))}</summary>'
                 f'<pre class="report">{h(raw)}</pre></details>')
    return "".join(parts)
