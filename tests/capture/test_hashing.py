"""Segment hashes are computed while the muxer writes, and are right."""

from __future__ import annotations

import hashlib

import numpy as np

from zhishiyun.capture.encoder import SegmentFile, choose_encoder
from zhishiyun.capture.hashing import HashingFile
from zhishiyun.config import RecordingSettings


def test_a_segment_knows_its_sha256_and_size_when_it_closes(tmp_path):
    settings = RecordingSettings()
    segment = SegmentFile(tmp_path / "000000.mp4", choose_encoder(settings), settings,
                          width=320, height=240, fps=10, with_audio=True)
    image = np.zeros((240, 320, 3), np.uint8)
    for i in range(12):
        image[:, :, i % 3] = 20 * i
        segment.add_video(image, i * 100, "bgr24")
        segment.add_audio(np.full(1600, 0.1, np.float32))
    segment.close()
    data = (tmp_path / "000000.mp4").read_bytes()
    assert segment.bytes == len(data) > 0
    assert segment.sha256 == hashlib.sha256(data).hexdigest()


def test_bytes_rewritten_after_a_seek_make_the_running_hash_unusable(tmp_path):
    out = HashingFile(tmp_path / "f")
    out.write(b"abcdef")
    assert out.digest() == hashlib.sha256(b"abcdef").hexdigest()
    out.seek(2)
    out.write(b"XY")  # what a muxer that patches a header would do
    out.seek(0, 2)
    out.write(b"gh")
    out.close()
    assert (tmp_path / "f").read_bytes() == b"abXYefgh"
    assert out.digest() is None and out.size == 8


def test_every_write_reaches_the_file_at_once(tmp_path):
    out = HashingFile(tmp_path / "f")
    out.write(memoryview(b"fragment"))
    assert (tmp_path / "f").read_bytes() == b"fragment"  # nothing held back in the process
    out.close()
