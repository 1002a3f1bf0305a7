"""Frames held through a segment's grace period do not grow the camera decoder's pool.

At a boundary the camera track holds the frames that arrive after it until late audio is
in (seconds, with a microphone reporting a long delay). A decoder's frames live in its
buffer pool, which grows to as many frames as are held and never shrinks, so the track
holds copies.
"""

from __future__ import annotations

import numpy as np

from zhishiyun.capture.file_camera import FileFrames
from zhishiyun.capture.tracks import detached

HELD = 30  # 2 s of camera at 15 fps


def _pool_buffers_while_holding(camera_file, hold) -> int:
    frames = FileFrames(camera_file, 640, 480)
    buffers, held = set(), []
    try:
        for index, frame in enumerate(frames):
            buffers.add(frame.planes[0].buffer_ptr)
            held.append(hold(frame))
            if index == HELD + 10:
                break
    finally:
        frames.close()
    assert len(held) == HELD + 11
    return len(buffers)


def test_held_camera_frames_are_copies_and_leave_the_decoder_pool_small(camera_file):
    assert _pool_buffers_while_holding(camera_file, lambda f: f) > HELD  # what it was
    assert _pool_buffers_while_holding(camera_file, detached) <= 8


def test_a_held_copy_is_the_same_picture(camera_file):
    frames = FileFrames(camera_file, 640, 480)
    try:
        frame = next(iter(frames))
        copy = detached(frame)
    finally:
        frames.close()
    assert copy is not frame
    assert (copy.width, copy.height, copy.format.name) == (640, 480, "yuv420p")
    assert np.array_equal(copy.to_ndarray(), frame.to_ndarray())
