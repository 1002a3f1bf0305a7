"""Answer versions in the session's signed chain (:mod:`zhishiyun_formats.answer_chain`).

Each saved answer version arrives with its ``answers`` manifest line. The line must
describe that version (question, version, saved_at and the hash of the text), else the
answer is refused with 422 ``answer_chain_mismatch``; it is stored with the session's
manifest lines, also for a version refused later as stale or saved after the end (it was
written on the candidate's computer). ``GET /sessions/{sid}/recordings`` reports the
``answers`` track: its lines, gaps and whether the chain verifies and every answer the
server holds, and every version in its history, still hashes to the line of its version.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from zhishiyun_formats.answer_chain import ANSWERS_TRACK, describes, version_hash
from zhishiyun_formats.manifest import ManifestVerification
from zhishiyun_server.errors import ApiProblem
from zhishiyun_server.models import Answer, AnswerTiming, AnswerVersion, ExamSession
from zhishiyun_server.validation import MAX_SEQ


def _instant(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _record(text: str) -> dict:
    try:
        record = json.loads(text)
    except ValueError:
        record = None
    if not isinstance(record, dict) or not isinstance(record.get("seq"), int) \
            or isinstance(record.get("seq"), bool) or not 0 <= record["seq"] <= MAX_SEQ:
        raise ApiProblem(422, "answer_chain_mismatch", "The answer's chain line is not a "
                         "manifest line.")
    return record


def check_answer_line(question_id: str, version: int, content: str,
                      saved_at: datetime | None, line: str) -> None:
    """Raise 422 ``answer_chain_mismatch`` unless ``line`` is this answer version's line."""
    record = _record(line)
    if not describes(record, question_id, version, content):
        raise ApiProblem(422, "answer_chain_mismatch",
                         "The answer's chain line does not describe this version.")
    try:
        start = datetime.fromisoformat(record["start"])
    except ValueError:
        start = None
    if start is None or start.tzinfo is None or (
            saved_at is not None and _instant(saved_at) != start):
        raise ApiProblem(422, "answer_chain_mismatch",
                         "The answer's chain line names another saved_at.")


def answers_state(db: Session, session: ExamSession, lines: list[Any],
                  verification: ManifestVerification | None) -> dict[str, Any]:
    """The ``answers`` track's ``TrackState`` fields: lines, gaps, chain and answers agree.

    ``lines``: the track's stored manifest lines (rows with ``seq`` and ``line``).
    """
    records = {}
    for row in lines:
        try:
            record = json.loads(row.line)
            records[(record["question"], record["version"])] = record
        except (ValueError, KeyError, TypeError):
            continue
    check = verification.tracks.get(ANSWERS_TRACK) if verification is not None else None
    chain_ok = bool(check and check.ok and not verification.malformed_lines)
    timings = {t.question_id: t for t in db.scalars(
        select(AnswerTiming).where(AnswerTiming.session_id == session.id))}
    for answer in db.scalars(select(Answer).where(Answer.session_id == session.id)):
        record = records.get((answer.question_id, answer.version))
        if record is None:
            continue  # sent by a client without the chain, or its line is missing (a gap)
        timing = timings.get(answer.question_id)
        same_time = timing is None or timing.version != answer.version \
            or timing.saved_at is None \
            or _instant(timing.saved_at) == datetime.fromisoformat(record["start"])
        if not same_time or record["sha256"] != version_hash(
                answer.question_id, answer.version, record["start"], answer.content):
            chain_ok = False  # the stored version is not the one the candidate signed
    for kept in db.scalars(select(AnswerVersion).where(AnswerVersion.session_id == session.id)):
        record = records.get((kept.question_id, kept.version))
        if record is not None and record["sha256"] != version_hash(
                kept.question_id, kept.version, record["start"], kept.content):
            chain_ok = False  # a version in the history was changed after it arrived
    return {"received": [row.seq for row in lines],
            "missing": list(check.missing) if check else [],
            "missing_count": len(check.missing) if check else 0,
            "bytes": sum(int(r.get("bytes", 0)) for r in records.values()),
            "chain_ok": chain_ok}
