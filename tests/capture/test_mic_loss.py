"""A microphone that stops delivering is reported lost, retried, and resumes."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from tests.capture.conftest import decode, pipe_source
from zhishiyun.capture.recorder import Recorder
from zhishiyun.config import RecordingSettings

RATE = 16000


@pytest.fixture
def stalling_mic(pulse_mic, monkeypatch, tmp_path):
    """A private pipe source; ``feeding`` (an Event) decides whether samples flow."""
    with pipe_source(tmp_path, monkeypatch, "zsy_stall", RATE) as fifo:
        yield from _stalling_feed(fifo)


def _stalling_feed(fifo):
    feeding, done = threading.Event(), threading.Event()
    feeding.set()
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(RATE // 100) / RATE)).astype(np.float32)

    def feed():
        with open(fifo, "wb", buffering=0) as pipe:
            due = time.monotonic()
            while not done.is_set():
                due += 0.01
                time.sleep(max(0.0, due - time.monotonic()))
                if feeding.is_set():
                    pipe.write(tone.tobytes())
                else:
                    due = time.monotonic()

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        yield feeding
    finally:
        done.set()
        feeder.join(2)


def test_stalled_microphone_is_lost_then_restored(stalling_mic, camera_file, tmp_path):
    events = []
    recorder = Recorder(tmp_path, "k", RecordingSettings(segment_seconds=3), screen=False,
                        camera=camera_file, microphone="pulse", event_did_occur=events.append)
    recorder.start()
    time.sleep(1.0)
    stalling_mic.clear()
    deadline = time.monotonic() + 10
    while not any(e.kind == "device_lost" for e in events) and time.monotonic() < deadline:
        time.sleep(0.1)
    stalling_mic.set()
    deadline = time.monotonic() + 10
    while not any(e.kind == "device_restored" for e in events) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.5)
    summary = recorder.stop()
    kinds = [(e.kind, e.source) for e in events]
    assert ("device_lost", "microphone") in kinds
    assert ("device_restored", "microphone") in kinds
    assert summary["sources"]["camera"]["encoded"] > 60  # video went on meanwhile
    last = [s for s in summary["segments"] if s["track"] == "camera"][-1]
    info = decode(last["path"])
    # gaps are silence, not holes: the audio spans the segment to within one AAC frame
    # (1024 samples = 64 ms at 16 kHz; the stall itself lasted seconds)
    assert info["audio_seconds"] >= last["duration_ms"] / 1000 - 1024 / RATE
    assert float(np.abs(info["audio"][-RATE // 2:]).max()) > 0.2  # the tone is back
