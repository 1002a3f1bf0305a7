"""The persistent upload queue: SQLite in WAL mode, one row per thing to deliver.

Rows hold segments (files sent with tus to the server-given upload URL), and API operations
with a JSON body — "put answer q3 v7", "post events", "post manifest lines", "finish" —
named by ``operation``, ``args``, ``server`` and the session; the API layer
(:mod:`zhishiyun.api.operations`) turns them into requests. Rows written by older versions
stored a URL (``target``) instead: they are converted when the queue opens, and any that do
not match a known operation are still delivered to their URL.

States: ``pending`` → ``uploading`` → ``done``, or ``failed`` with a reason and the
attempt count. A row is written (and fsynced: ``synchronous=FULL``) before anything is
sent, and marked ``done`` or ``failed`` (fsynced) only after the server answered;
bookkeeping in between (progress, attempts, counters) is not fsynced. So a crash at any
point leaves every row either done or resumable; rows left ``uploading`` by a crash go back
to ``pending`` when the next worker starts (:meth:`UploadQueue.recover_interrupted`).

The same database keeps tus upload URLs (table ``tus_urls``) for
:class:`~zhishiyun.upload.tus.SqliteUrlStorage`, so a resume needs nothing else.

Thread-safe: one connection guarded by a lock (the recorder's thread enqueues, the upload
worker claims and updates).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

PENDING, UPLOADING, DONE, FAILED = "pending", "uploading", "done", "failed"
#: Delivery order within a session: small and urgent first.
KIND_ORDER = {"answer": 0, "events": 1, "manifest": 2, "segment": 3}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    session_id TEXT NOT NULL,
    track TEXT,
    seq INTEGER,
    path TEXT,
    target TEXT NOT NULL,
    method TEXT NOT NULL DEFAULT 'POST',
    payload TEXT,
    size INTEGER NOT NULL DEFAULT 0,
    sha256 TEXT,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    reason TEXT NOT NULL DEFAULT '',
    bytes_done INTEGER NOT NULL DEFAULT 0,
    resumed_from INTEGER NOT NULL DEFAULT 0,
    sent_bytes INTEGER NOT NULL DEFAULT 0,
    rejected_chunks INTEGER NOT NULL DEFAULT 0,
    restarts INTEGER NOT NULL DEFAULT 0,
    dedupe TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    operation TEXT,
    args TEXT,
    server TEXT
);
CREATE INDEX IF NOT EXISTS items_state ON items (state, session_id);
CREATE TABLE IF NOT EXISTS tus_urls (key TEXT PRIMARY KEY, url TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY,
    upload_url TEXT NOT NULL,
    api_url TEXT NOT NULL,
    session_dir TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class QueueItem:
    """One row of the queue (a snapshot; the database is the truth)."""

    id: int
    kind: str
    session_id: str
    track: str | None
    seq: int | None
    path: str | None
    target: str
    method: str
    payload: str | None
    size: int
    sha256: str | None
    state: str
    attempts: int
    reason: str
    bytes_done: int
    resumed_from: int
    sent_bytes: int
    rejected_chunks: int
    restarts: int
    operation: str | None = None
    args: str | None = None
    server: str | None = None

    @property
    def host(self) -> str:
        """``host:port`` of the server the item goes to."""
        return urlsplit(self.server or self.target).netloc

    @property
    def arguments(self) -> dict[str, Any]:
        """The operation's arguments (e.g. ``question_id``)."""
        try:
            value = json.loads(self.args or "{}")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    @property
    def label(self) -> str:
        """Short human-readable name for logs and progress."""
        if self.kind == "segment":
            return f"{self.track}/{self.seq}.mp4"
        if self.operation == "put_answer":
            args = self.arguments
            version = f" v{args['version']}" if "version" in args else ""
            return f"answer {args.get('question_id', '?')}{version}"
        return f"{self.kind} #{self.id}"


_COLUMNS = [f for f in QueueItem.__dataclass_fields__]


class UploadQueue:
    """The queue database at ``path`` (created when missing)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                                   timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._migrate()
        #: Called (on the enqueuing thread) after an item was added; the worker wakes here.
        self.item_was_added: list = []

    def _migrate(self) -> None:
        """Bring a queue written by an older version up to date (columns, then rows)."""
        from zhishiyun.api.operations import parse_legacy

        with self._lock:
            have = {row[1] for row in self._db.execute("PRAGMA table_info(items)")}
            for column in ("operation", "args", "server"):
                if column not in have:
                    self._db.execute(f"ALTER TABLE items ADD COLUMN {column} TEXT")
            rows = self._db.execute(
                "SELECT id, target FROM items WHERE operation IS NULL AND kind != 'segment' "
                "AND state != ?", (DONE,)).fetchall()
            converted = 0
            for item_id, target in rows:
                parsed = parse_legacy(target)
                if parsed is None:
                    continue  # unknown shape: still delivered to its URL
                server, operation, args = parsed
                self._db.execute("UPDATE items SET operation=?, args=?, server=? WHERE id=?",
                                 (operation, json.dumps(args, sort_keys=True), server,
                                  item_id))
                converted += 1
        if converted:
            log.info("upload queue: %d item(s) from an older version converted", converted)

    def recover_interrupted(self) -> int:
        """Items left ``uploading`` by a crash go back to ``pending``; returns how many.

        Only the process that holds the worker lock calls this (see ``UploadWorker``).
        """
        with self._lock:
            count = self._db.execute("UPDATE items SET state=?, updated_at=? WHERE state=?",
                                     (PENDING, time.time(), UPLOADING)).rowcount
        if count:
            log.info("upload queue: %d interrupted item(s) back to pending", count)
        return count

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    # --- adding ------------------------------------------------------------------------

    def _insert(self, dedupe: str, **values: Any) -> int | None:
        now = time.time()
        values.update(dedupe=dedupe, created_at=now, updated_at=now)
        names = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        with self._lock:
            cur = self._db.execute(f"INSERT OR IGNORE INTO items ({names}) VALUES ({marks})",
                                   tuple(values.values()))
            item_id = cur.lastrowid if cur.rowcount else None
        if item_id is not None:
            for callback in list(self.item_was_added):
                callback(item_id)
        return item_id

    def together(self) -> threading.RLock:
        """Hold while adding rows the worker must see all or none of (a line and its segment).

        The worker reads the queue under the same lock, so it never finds a segment's
        manifest line without the segment that the line may travel with.
        """
        return self._lock

    def enqueue_segment(self, session_id: str, track: str, seq: int, path: str | Path,
                        target: str, *, sha256: str | None = None,
                        size: int | None = None) -> int | None:
        """Queue a closed segment file for tus upload to ``target`` (the tus endpoint).

        Returns:
            The new item id, or None when this (session, track, seq) is already queued.
        """
        path = Path(path)
        if size is None:
            size = path.stat().st_size
        return self._insert(f"segment:{session_id}:{track}:{seq}", kind="segment",
                            session_id=session_id, track=track, seq=int(seq),
                            path=str(path.resolve()), target=target, size=int(size),
                            sha256=sha256)

    def enqueue_operation(self, kind: str, session_id: str, operation: str, payload: Any, *,
                          server: str, args: dict[str, Any] | None = None,
                          dedupe: str | None = None) -> int | None:
        """Queue an API ``operation`` (e.g. ``put_answer``) with a JSON body for ``server``.

        ``dedupe`` makes the call idempotent (e.g. ``answer:<sid>:<qid>:<version>``).
        """
        body = json.dumps(payload, ensure_ascii=False, sort_keys=True)
        key = dedupe or f"{kind}:{session_id}:{time.time_ns()}"
        return self._insert(key, kind=kind, session_id=session_id, target="",
                            method="", payload=body, size=len(body.encode("utf-8")),
                            operation=operation, server=server.rstrip("/"),
                            args=json.dumps(args or {}, ensure_ascii=False, sort_keys=True))

    def enqueue_json(self, kind: str, session_id: str, target: str, payload: Any, *,
                     method: str = "POST", dedupe: str | None = None) -> int | None:
        """Queue a JSON body for ``method target`` (a URL: the older form of a row).

        A URL of a known API operation is stored as that operation (see
        :meth:`enqueue_operation`, which new code uses); any other is delivered to the URL.
        """
        from zhishiyun.api.operations import parse_legacy

        parsed = parse_legacy(target)
        if parsed is not None and (parsed[1] != "put_answer" or method.upper() == "PUT"):
            server, operation, args = parsed
            return self.enqueue_operation(kind, session_id, operation, payload,
                                          server=server, args=args, dedupe=dedupe)
        body = json.dumps(payload, ensure_ascii=False, sort_keys=True)
        key = dedupe or f"{kind}:{session_id}:{time.time_ns()}"
        return self._insert(key, kind=kind, session_id=session_id, target=target,
                            method=method, payload=body, size=len(body.encode("utf-8")))

    # --- the worker's side -------------------------------------------------------------

    def get(self, item_id: int) -> QueueItem:
        """The item with ``item_id``."""
        with self._lock:
            row = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM items WHERE id=?",
                                   (item_id,)).fetchone()
        if row is None:
            raise KeyError(item_id)
        return QueueItem(*row)

    def next_pending(self, current_session: str | None = None, skip: Iterable[int] = (),
                     skip_hosts: Iterable[str] = ()) -> QueueItem | None:
        """The next item to send: current session first, then by kind, then oldest.

        Args:
            current_session: its items go first.
            skip: item ids not to return.
            skip_hosts: servers (``host:port`` of the target) not to return items for
                (the worker is backing off from them).
        """
        skip, hosts = tuple(skip), frozenset(skip_hosts)
        skip_sql = f" AND id NOT IN ({','.join('?' * len(skip))})" if skip else ""
        order = " ".join(f"WHEN '{k}' THEN {v}" for k, v in KIND_ORDER.items())
        with self._lock:
            rows = self._db.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM items WHERE state=?{skip_sql} "
                f"ORDER BY (session_id = ?) DESC, CASE kind {order} ELSE 9 END, id",
                (PENDING, *skip, current_session or ""))
            for row in rows:
                item = QueueItem(*row)
                if item.host not in hosts:
                    return item
        return None

    def _light(self, sql: str, args: tuple) -> None:
        """A bookkeeping write that needs no fsync (WAL ``synchronous=NORMAL``).

        It survives a crash of the process; a power cut may lose it, which costs nothing
        because the server's offset and the manifest are the truth on resume.
        """
        with self._lock:
            self._db.execute("PRAGMA synchronous=NORMAL")
            try:
                self._db.execute(sql, args)
            finally:
                self._db.execute("PRAGMA synchronous=FULL")

    def _update(self, item_id: int, *, durable: bool = True, **values: Any) -> None:
        values["updated_at"] = time.time()
        assignments = ", ".join(f"{k}=?" for k in values)
        sql, args = f"UPDATE items SET {assignments} WHERE id=?", (*values.values(), item_id)
        if not durable:
            self._light(sql, args)
            return
        with self._lock:
            self._db.execute(sql, args)

    def mark_uploading(self, item_id: int) -> None:
        """The worker starts an attempt."""
        self._light("UPDATE items SET state=?, attempts=attempts+1, updated_at=? WHERE id=?",
                    (UPLOADING, time.time(), item_id))

    def mark_progress(self, item_id: int, bytes_done: int, sent: int = 0) -> None:
        """The server confirmed ``bytes_done`` (``sent``: bytes of the chunk just sent).

        Written without an fsync (WAL ``synchronous=NORMAL`` for this one statement): it
        survives a crash of the process; after a power cut it may be a chunk behind, which
        costs nothing because a resume asks the server for its offset anyway.
        """
        self._light("UPDATE items SET bytes_done=?, sent_bytes=sent_bytes+?, updated_at=? "
                    "WHERE id=?", (bytes_done, sent, time.time(), item_id))

    def mark_resumed(self, item_id: int, offset: int) -> None:
        """An attempt starts at the server's ``offset``."""
        self._update(item_id, durable=False, resumed_from=offset, bytes_done=offset)

    def count(self, item_id: int, column: str) -> None:
        """Add one to a counter column (``rejected_chunks`` or ``restarts``)."""
        if column not in ("rejected_chunks", "restarts"):
            raise ValueError(column)
        self._light(f"UPDATE items SET {column}={column}+1 WHERE id=?", (item_id,))

    def mark_done(self, item_id: int) -> None:
        """The server confirmed the whole item."""
        with self._lock:
            self._db.execute("UPDATE items SET state=?, reason='', bytes_done=size, "
                             "updated_at=? WHERE id=?", (DONE, time.time(), item_id))

    def mark_failed(self, item_id: int, reason: str) -> None:
        """The item will never succeed as it is (a permanent refusal)."""
        self._update(item_id, state=FAILED, reason=reason[:500])

    def mark_retry(self, item_id: int, reason: str) -> None:
        """A temporary failure: back to pending with the reason (the worker backs off)."""
        self._update(item_id, durable=False, state=PENDING, reason=reason[:500])

    def requeue_failed(self, session_id: str | None = None) -> int:
        """Put failed items back to pending (after the cause was fixed); returns how many."""
        sql = "UPDATE items SET state=?, reason='', updated_at=? WHERE state=?"
        args: list[Any] = [PENDING, time.time(), FAILED]
        if session_id is not None:
            sql += " AND session_id=?"
            args.append(session_id)
        with self._lock:
            return self._db.execute(sql, args).rowcount

    # --- overview ----------------------------------------------------------------------

    def items(self, session_id: str | None = None) -> list[QueueItem]:
        """Every item (of one session), oldest first."""
        sql = f"SELECT {', '.join(_COLUMNS)} FROM items"
        args: tuple = ()
        if session_id is not None:
            sql, args = sql + " WHERE session_id=?", (session_id,)
        with self._lock:
            return [QueueItem(*r) for r in self._db.execute(sql + " ORDER BY id", args)]

    def session_totals(self, session_id: str) -> dict[str, int]:
        """``{bytes_total, bytes_done, items_total, items_done, items_failed}``."""
        with self._lock:
            row = self._db.execute(
                "SELECT COALESCE(SUM(size),0), COALESCE(SUM(bytes_done),0), COUNT(*), "
                "COALESCE(SUM(state='done'),0), COALESCE(SUM(state='failed'),0) "
                "FROM items WHERE session_id=?", (session_id,)).fetchone()
        keys = ("bytes_total", "bytes_done", "items_total", "items_done", "items_failed")
        return dict(zip(keys, (int(v) for v in row), strict=True))

    def unfinished(self) -> int:
        """How many items are pending or uploading."""
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM items WHERE state IN (?, ?)",
                                    (PENDING, UPLOADING)).fetchone()[0]

    # --- sessions (where their items go; for recovery after a crash) ----------------------

    def register_session(self, session_id: str, upload_url: str, api_url: str,
                         session_dir: str | Path = "") -> None:
        """Remember where a session's uploads go (so ``zhishiyun upload`` can resume them)."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO sessions (session_id, upload_url, api_url, session_dir,"
                " created_at) VALUES (?, ?, ?, ?, ?)",
                (session_id, upload_url, api_url.rstrip("/"), str(session_dir), time.time()))

    def sessions(self) -> list[dict[str, str]]:
        """Registered sessions: ``{session_id, upload_url, api_url, session_dir}``."""
        with self._lock:
            rows = self._db.execute("SELECT session_id, upload_url, api_url, session_dir "
                                    "FROM sessions ORDER BY created_at").fetchall()
        return [dict(zip(("session_id", "upload_url", "api_url", "session_dir"), r,
                         strict=True)) for r in rows]

    # --- tus URL storage ---------------------------------------------------------------

    def get_url(self, key: str) -> str | None:
        """The stored tus upload URL for ``key``."""
        with self._lock:
            row = self._db.execute("SELECT url FROM tus_urls WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_url(self, key: str, url: str) -> None:
        """Store (fsynced) the tus upload URL for ``key``."""
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO tus_urls (key, url) VALUES (?, ?)",
                             (key, url))

    def remove_url(self, key: str) -> None:
        """Forget the tus upload URL for ``key``."""
        self._light("DELETE FROM tus_urls WHERE key=?", (key,))
