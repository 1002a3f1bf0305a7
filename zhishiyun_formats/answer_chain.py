"""Answer versions in the session's signed chain: one manifest line per saved version.

Every time the candidate saves an answer, the client appends a line to the session's
``answers`` track (file ``<session dir>/answers.jsonl``, the same line format, ``prev``
chain and MAC as ``manifest.jsonl``, see :mod:`zhishiyun_formats.manifest`) and sends that
line with the answer. The line's fields::

    seq          int, per save in this session, from 0, +1 per saved version
    track        "answers"
    start        the saved_at sent with the answer (ISO 8601 with offset)
    duration_ms  0
    bytes        size of the answer text in UTF-8
    sha256       version_hash(question, version, start, text)
    question     the question id
    version      the answer version

The server refuses an answer whose line does not describe it (422), stores the line in the
session's manifest, and checks later that the answer it holds still hashes to its line, so
a stored version changed after the fact shows as a broken ``answers`` chain.
"""

from __future__ import annotations

import hashlib
from typing import Any

from zhishiyun_formats.manifest import canonical_bytes

ANSWERS_TRACK = "answers"
ANSWERS_NAME = "answers.jsonl"


def version_hash(question_id: str, version: int, saved_at: str, text: str) -> str:
    """sha256 hex of the canonical answer version {question, version, saved_at, text_sha256}."""
    return hashlib.sha256(canonical_bytes({
        "question": str(question_id), "version": int(version), "saved_at": saved_at,
        "text_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
    })).hexdigest()


def answer_record(seq: int, question_id: str, version: int, saved_at: str,
                  text: str) -> dict[str, Any]:
    """The ``answers`` track record of one saved version (``prev``/``mac`` not yet set)."""
    return {"seq": int(seq), "track": ANSWERS_TRACK, "start": saved_at, "duration_ms": 0,
            "bytes": len(text.encode("utf-8")), "question": str(question_id),
            "version": int(version), "sha256": version_hash(question_id, version, saved_at, text)}


def describes(record: dict[str, Any], question_id: str, version: int, text: str) -> bool:
    """Whether a parsed ``answers`` line is the line of this answer version."""
    start = record.get("start")
    return (record.get("track") == ANSWERS_TRACK and isinstance(start, str)
            and record.get("question") == str(question_id)
            and record.get("version") == int(version)
            and record.get("sha256") == version_hash(question_id, version, start, text))
