"""Feeding one exam session into the queue: closed segments and their manifest lines.

``SessionUploads.on_segment_closed`` is the recorder's ``segment_did_close`` callback (it
runs on the recorder's encoder thread: it only writes two queue rows and returns).
``put_answer``, ``post_events`` and ``finish`` queue the session's other API operations; the
queue stores the operation, the API layer builds the request.
``enqueue_session_dir`` scans a session directory (the recorder's ``<track>/<seq>.mp4`` files +
``manifest.jsonl``) and queues whatever is not queued yet: after a crash, or for
``zhishiyun upload``. Only segments named by the manifest are queued (a segment without a
line may still be open; recovery closes it and writes its line first).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from zhishiyun.api.operations import server_root
from zhishiyun.capture.manifest import MANIFEST_NAME, canonical_bytes, read_lines
from zhishiyun.capture.recovery import segment_path
from zhishiyun.upload.queue import UploadQueue

log = logging.getLogger(__name__)


class SessionUploads:
    """Queues one session's recordings.

    Args:
        queue: the upload queue.
        session_id: the server's session id.
        upload_url: the tus endpoint (``upload_url`` of ``POST /exams/{id}/sessions``).
        api_url: the API base, e.g. ``https://exam.example.cn/api/v1``.
        session_dir: where the recorder writes this session.
    """

    def __init__(self, queue: UploadQueue, session_id: str, upload_url: str, api_url: str,
                 session_dir: str | Path = "") -> None:
        self.queue, self.session_id = queue, session_id
        self.upload_url, self.api_url = upload_url, api_url.rstrip("/")
        self.server = server_root(self.api_url)
        self.session_dir = Path(session_dir) if session_dir else None
        queue.register_session(session_id, upload_url, api_url, session_dir)

    def put_answer(self, question_id: str, version: int, payload: dict[str, Any]) -> bool:
        """Queue "put answer ``question_id`` v``version``" (``payload``: the JSON body)."""
        return self.queue.enqueue_operation(
            "answer", self.session_id, "put_answer", payload, server=self.server,
            args={"question_id": str(question_id), "version": int(version)},
            dedupe=f"answer:{self.session_id}:{question_id}:{int(version)}") is not None

    def post_events(self, events: list[dict[str, Any]]) -> bool:
        """Queue "post events" for a batch of events (each with an ``id``)."""
        first, last = (events[0].get("id"), events[-1].get("id")) if events else ("", "")
        return self.queue.enqueue_operation(
            "events", self.session_id, "post_events", {"events": events}, server=self.server,
            dedupe=f"events:{self.session_id}:{first}:{last}") is not None

    def finish(self, reason: str, last_seq: dict[str, int] | None = None) -> bool:
        """Queue "finish" (when the server could not be told at once)."""
        body: dict[str, Any] = {"reason": reason}
        if last_seq is not None:
            body["last_seq"] = last_seq
        return self.queue.enqueue_operation(
            "finish", self.session_id, "finish", body, server=self.server,
            dedupe=f"finish:{self.session_id}") is not None

    def add_segment(self, track: str, seq: int, path: str | Path, line: str,
                    sha256: str | None = None, size: int | None = None) -> bool:
        """Queue a closed segment and its manifest line (idempotent); True if new.

        Added together (the worker sees both or neither), so that the line can travel with
        the segment's creation when nothing else waits (``UploadWorker``).
        """
        with self.queue.together():
            self.queue.enqueue_operation("manifest", self.session_id, "post_manifest",
                                         {"lines": [line]}, server=self.server,
                                         dedupe=f"manifest:{self.session_id}:{track}:{seq}")
            return self.queue.enqueue_segment(self.session_id, track, seq, path,
                                              self.upload_url, sha256=sha256,
                                              size=size) is not None

    def on_segment_closed(self, segment: Any) -> None:
        """The recorder's ``segment_did_close(ClosedSegment)`` callback."""
        line = canonical_bytes(segment.record).decode("utf-8") if segment.record else ""
        self.add_segment(segment.track, segment.seq, segment.path, line,
                         sha256=segment.sha256, size=segment.bytes)

    def enqueue_session_dir(self, session_dir: str | Path | None = None) -> int:
        """Queue every segment of the manifest not queued yet; returns how many were new."""
        directory = Path(session_dir) if session_dir else self.session_dir
        if directory is None:
            raise ValueError("no session directory given")
        added = 0
        for raw in read_lines(directory / MANIFEST_NAME):
            try:
                record = json.loads(raw)
                track, seq = str(record["track"]), int(record["seq"])
            except (ValueError, KeyError, TypeError):
                log.warning("session %s: unreadable manifest line skipped", self.session_id)
                continue
            path = segment_path(directory, track, seq)
            if not path.is_file():
                log.warning("session %s: %s is in the manifest but missing",
                            self.session_id, path.relative_to(directory))
                continue
            added += self.add_segment(track, seq, path, raw.decode("utf-8"),
                                      sha256=record.get("sha256"), size=record.get("bytes"))
        return added
