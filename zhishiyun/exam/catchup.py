"""Queue what a session directory holds but the upload queue does not (after a crash).

Segments are found by the capture package's own naming (:func:`segment_path`, zero-padded
seq), and only those named by a manifest line are queued (a segment without one may still
be open; the recorder's recovery closes it and writes its line first).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from zhishiyun.capture.manifest import MANIFEST_NAME, read_lines
from zhishiyun.capture.recovery import segment_path
from zhishiyun.upload.session import SessionUploads

log = logging.getLogger(__name__)


def queue_session_dir(uploads: SessionUploads, session_dir: str | Path) -> int:
    """Queue every manifest segment of ``session_dir`` not queued yet; returns how many."""
    directory = Path(session_dir)
    added = 0
    for raw in read_lines(directory / MANIFEST_NAME):
        try:
            record = json.loads(raw)
            track, seq = str(record["track"]), int(record["seq"])
        except (ValueError, KeyError, TypeError):
            log.warning("session %s: unreadable manifest line skipped", uploads.session_id)
            continue
        path = segment_path(directory, track, seq)
        if not path.is_file():
            log.warning("session %s: %s is in the manifest but missing", uploads.session_id,
                        path.name)
            continue
        added += uploads.add_segment(track, seq, path, raw.decode("utf-8"),
                                     sha256=record.get("sha256"), size=record.get("bytes"))
    return added
