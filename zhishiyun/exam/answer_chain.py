"""The session's ``answers`` chain: a signed line for every saved answer version.

Lines go to ``<session dir>/answers.jsonl`` in the manifest's format (chained ``prev``,
HMAC with the session key, see :mod:`zhishiyun_formats.answer_chain`) and travel with the
answer they describe, so the server holds the chain of every version the candidate saved.
"""

from __future__ import annotations

import threading
from pathlib import Path

from zhishiyun.capture.manifest import ManifestWriter, canonical_bytes, read_records
from zhishiyun_formats.answer_chain import ANSWERS_NAME, ANSWERS_TRACK, answer_record


class AnswerChain:
    """Appends one ``answers`` line per saved version (thread-safe, fsynced per line).

    Args:
        session_dir: the session directory (the chain continues after a restart).
        key: the session key (memory only).
    """

    def __init__(self, session_dir: str | Path, key: bytes | str) -> None:
        path = Path(session_dir) / ANSWERS_NAME
        seqs = [r.get("seq") for r in read_records(path) if r.get("track") == ANSWERS_TRACK]
        self._next = max((s for s in seqs if isinstance(s, int)), default=-1) + 1
        self._writer = ManifestWriter(path, key)
        self._lock = threading.Lock()

    def append(self, question_id: str, version: int, saved_at: str, text: str) -> str:
        """Write the line of one saved version; returns its exact text (sent with it)."""
        with self._lock:
            written = self._writer.append(
                answer_record(self._next, question_id, version, saved_at, text))
            self._next += 1
            return canonical_bytes(written).decode("utf-8")

    def close(self) -> None:
        """Close the file (idempotent)."""
        self._writer.close()
