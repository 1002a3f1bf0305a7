"""Feeding one exam session into the queue: closed segments and their manifest lines.

``SessionUploads.on_segment_closed`` is the recorder's ``segment_did_close`` callback (it
runs on the recorder's encoder thread: it only writes two queue rows and returns).
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
        self.session_dir = Path(session_dir) if session_dir else None
        queue.register_session(session_id, upload_url, api_url, session_dir)

    @property
    def manifest_url(self) -> str:
        """``POST`` target for manifest lines."""
        return f"{self.api_url}/sessions/{self.session_id}/manifest"

    def add_segment(self, track: str, seq: int, path: str | Path, line: str,
                    sha256: str | None = None, size: int | None = None) -> bool:
        """Queue a closed segment and its manifest line (idempotent); True if new."""
        self.queue.enqueue_json("manifest", self.session_id, self.manifest_url,
                                {"lines": [line]},
                                dedupe=f"manifest:{self.session_id}:{track}:{seq}")
        return self.queue.enqueue_segment(self.session_id, track, seq, path, self.upload_url,
                                          sha256=sha256, size=size) is not None

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
