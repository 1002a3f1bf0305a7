"""The session's own local store: answers and proctoring events, in SQLite next to the recording.

Everything the candidate types and every proctoring event is written here first (fsynced,
``synchronous=FULL``) before anything goes over the network, so a crash, a power cut or a
lost network never loses it. The upload queue then carries it to the server.

Thread-safe: one connection guarded by a lock (the UI thread saves answers, the session's
ticker and the recorder threads add events).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STORE_NAME = "exam.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    question_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    content TEXT NOT NULL,
    saved_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    n INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    at TEXT NOT NULL,
    details TEXT NOT NULL,
    queued INTEGER NOT NULL DEFAULT 0
);
"""


@dataclass(frozen=True)
class SavedAnswer:
    """An answer as stored locally: ``version`` grows with every change.

    ``saved_at``: when it was saved, in server time (Unix seconds) as the session's clock
    knew it; the server counts a version saved before the end however late it arrives.
    """

    question_id: str
    version: int
    content: str
    saved_at: float = 0.0


class LocalStore:
    """Answers and events of one session in ``<session_dir>/exam.sqlite3``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                                   timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    # --- answers -------------------------------------------------------------------------

    def save_answer(self, question_id: str, content: str,
                    saved_at: float | None = None) -> SavedAnswer | None:
        """Store ``content`` as the next version; None when it did not change.

        Args:
            question_id: the question.
            content: the answer text.
            saved_at: server time (Unix seconds) of the save; this computer's by default.
        """
        saved_at = time.time() if saved_at is None else float(saved_at)
        with self._lock:
            row = self._db.execute("SELECT version, content FROM answers WHERE question_id=?",
                                   (question_id,)).fetchone()
            if row is not None and row[1] == content:
                return None
            version = (row[0] if row else 0) + 1
            self._db.execute(
                "INSERT OR REPLACE INTO answers (question_id, version, content, saved_at) "
                "VALUES (?, ?, ?, ?)", (question_id, version, content, saved_at))
        return SavedAnswer(question_id, version, content, saved_at)

    def adopt_answer(self, question_id: str, version: int, content: str) -> None:
        """Take the server's answer when it is newer than this computer's (another device)."""
        with self._lock:
            row = self._db.execute("SELECT version FROM answers WHERE question_id=?",
                                   (question_id,)).fetchone()
            if row is not None and row[0] >= version:
                return
            self._db.execute(
                "INSERT OR REPLACE INTO answers (question_id, version, content, saved_at) "
                "VALUES (?, ?, ?, ?)", (question_id, int(version), content, time.time()))

    def answers(self) -> dict[str, SavedAnswer]:
        """Every stored answer by question id."""
        with self._lock:
            rows = self._db.execute(
                "SELECT question_id, version, content, saved_at FROM answers").fetchall()
        return {r[0]: SavedAnswer(*r) for r in rows}

    # --- events --------------------------------------------------------------------------

    def add_event(self, kind: str, at: str, details: dict[str, Any] | None = None) -> dict:
        """Store an event with a new client id; returns it as ``{id, kind, at, details}``."""
        event = {"id": uuid.uuid4().hex, "kind": kind, "at": at, "details": details or {}}
        with self._lock:
            self._db.execute("INSERT INTO events (id, kind, at, details) VALUES (?, ?, ?, ?)",
                             (event["id"], kind, at, json.dumps(event["details"],
                                                                ensure_ascii=False)))
        return event

    def unqueued_events(self, limit: int = 500) -> list[dict]:
        """Events not handed to the upload queue yet, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, kind, at, details FROM events WHERE queued=0 ORDER BY n LIMIT ?",
                (limit,)).fetchall()
        return [{"id": r[0], "kind": r[1], "at": r[2], "details": json.loads(r[3])}
                for r in rows]

    def mark_queued(self, ids: list[str]) -> None:
        """The upload queue holds these events now."""
        with self._lock:
            self._db.executemany("UPDATE events SET queued=1 WHERE id=?", [(i,) for i in ids])

    def events(self) -> list[dict]:
        """Every event of the session, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT id, kind, at, details FROM events ORDER BY n") \
                .fetchall()
        return [{"id": r[0], "kind": r[1], "at": r[2], "details": json.loads(r[3])}
                for r in rows]
