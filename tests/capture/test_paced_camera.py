"""The recording's stand-in camera: frames decoded on the encoder's thread, each at its time."""

from __future__ import annotations

import itertools
import queue
import threading
import time

import pytest

from zhishiyun.capture.sources import CameraSource, Source

FPS = 15.0


def _drain(source: CameraSource) -> list[float]:
    times = []
    while True:
        try:
            times.append(source.queue.get_nowait()[0])
        except queue.Empty:
            return times


def test_frames_come_at_the_cameras_rate_without_a_thread_of_their_own(camera_file):
    source = CameraSource(camera_file, 640, 480, FPS, encoder_frames=True)
    source.start()
    start = time.monotonic()
    times = []
    while time.monotonic() - start < 1.0:
        t, frame = source.queue.get(timeout=0.2)
        times.append(t)
        assert (frame.width, frame.height, frame.format.name) == (640, 480, "yuv420p")
    assert "capture-camera" not in {t.name for t in threading.enumerate()}
    assert 14 <= len(times) <= 17
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) > 0.5 / FPS and max(gaps) < 2 / FPS
    source.stop()


def test_a_busy_encoder_gets_the_frames_it_missed_with_their_own_times(camera_file):
    """A segment's roll keeps the encoder away for a while; no frame of it is lost."""
    source = CameraSource(camera_file, 640, 480, FPS, encoder_frames=True)
    source.queue.get(timeout=0.5)
    busy_from = time.monotonic()
    time.sleep(0.5)
    times = _drain(source)
    assert len(times) >= 6  # ~7 frames were due meanwhile
    assert times[0] < busy_from + 1.5 / FPS  # each at the time it was due, not when taken
    assert all(0.5 / FPS < b - a < 1.5 / FPS for a, b in itertools.pairwise(times))
    assert source.counters.dropped == 0
    source.stop()


def test_frames_more_than_a_second_overdue_are_dropped_and_counted(camera_file):
    source = CameraSource(camera_file, 640, 480, FPS, encoder_frames=True)
    source.queue.get(timeout=0.5)
    time.sleep(1.8)
    taken = time.monotonic()
    times = _drain(source)
    assert source.counters.dropped >= 0.5 * FPS
    assert min(times) >= taken - 1.0 - 1 / FPS  # what is left is no older than the backlog
    assert source.counters.captured == source.counters.queued + source.counters.dropped
    source.stop()


def test_after_the_stop_the_due_frames_are_handed_out_then_none(camera_file):
    source = CameraSource(camera_file, 640, 480, FPS, encoder_frames=True)
    source.queue.get(timeout=0.5)
    time.sleep(0.3)
    source.stop()
    stopped = time.monotonic()
    assert len(_drain(source)) >= 3  # due before the stop: a queue would still hold them
    began = time.monotonic()
    with pytest.raises(queue.Empty):
        source.queue.get(timeout=0.2)
    assert time.monotonic() - began >= 0.15  # waits as on an empty queue, no busy loop
    assert all(t <= stopped for t in _drain(source))


def test_a_threads_full_queue_drops_and_counts():
    source = Source(queue_size=2)
    for i in range(5):
        source._offer(float(i), i)
    assert (source.counters.queued, source.counters.dropped) == (2, 3)
    assert [source.queue.get_nowait()[1] for _ in range(2)] == [0, 1]
