"""A session the real recorder wrote is found again by the queue (``zhishiyun upload``)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from zhishiyun.capture.manifest import MANIFEST_NAME, read_lines
from zhishiyun.capture.recorder import Recorder
from zhishiyun.config import RecordingSettings
from zhishiyun.demo import make_standin_camera
from zhishiyun.upload.queue import UploadQueue
from zhishiyun.upload.session import SessionUploads


def test_every_manifest_segment_of_a_real_recording_is_queued_after_a_restart(tmp_path):
    camera = make_standin_camera(tmp_path / "camera.mp4", seconds=2)
    session_dir = tmp_path / "sessions" / "s1"
    settings = dataclasses.replace(RecordingSettings(), segment_seconds=1)
    recorder = Recorder(session_dir, b"key", settings, screen=False, camera=str(camera),
                        microphone="none")
    recorder.start()
    time.sleep(3.5)
    recorder.stop()
    lines = list(read_lines(session_dir / MANIFEST_NAME))
    assert len(lines) >= 3

    # A new process: nothing was queued live; the scan must find every segment on disk.
    queue = UploadQueue(tmp_path / "queue.sqlite3")
    uploads = SessionUploads(queue, "s1", "http://127.0.0.1:9/files/",
                             "http://127.0.0.1:9/api/v1", session_dir)
    assert uploads.enqueue_session_dir() == len(lines)
    segments = [i for i in queue.items("s1") if i.kind == "segment"]
    assert len(segments) == len(lines)
    assert all(Path(i.path).is_file() and session_dir in Path(i.path).parents for i in segments)
    assert uploads.enqueue_session_dir() == 0  # idempotent
    queue.close()
