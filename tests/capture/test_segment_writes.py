"""A segment's packets reach the file as they are muxed (FFmpeg writes it, unbuffered)."""

from __future__ import annotations

import shutil

import numpy as np

from tests.capture.conftest import decode
from zhishiyun.capture.encoder import SegmentFile, choose_encoder
from zhishiyun.config import RecordingSettings

SETTINGS = RecordingSettings()


def _open(path):
    return SegmentFile(path, choose_encoder(SETTINGS), SETTINGS, width=320, height=240,
                       fps=10, with_audio=True)


def _picture(i: int) -> np.ndarray:
    image = np.zeros((240, 320, 3), np.uint8)
    image[:, :, i % 3] = 20 * i
    return image


def test_a_killed_recorder_leaves_every_muxed_frame_on_disk(tmp_path):
    """What the muxer wrote is in the file before the segment closes (no process buffer)."""
    segment = _open(tmp_path / "000000.mp4")
    for i in range(12):
        segment.add_video(_picture(i), i * 100, "bgr24")
        segment.add_audio(np.full(1600, 0.1, np.float32))
    # the file as a crash would leave it: copied while the segment is still open
    shutil.copy(tmp_path / "000000.mp4", tmp_path / "crashed.mp4")
    crashed = decode(tmp_path / "crashed.mp4")
    segment.close()
    closed = decode(tmp_path / "000000.mp4")
    # a fragment is written when the next packet is muxed: all but the last frame is there
    assert closed["video_frames"] >= 11
    assert crashed["video_frames"] >= closed["video_frames"] - 1
    assert crashed["audio_seconds"] >= 1.0

