"""A/V sync against the one clock: a tone that stops at a known instant.

The virtual microphone used elsewhere (module-sine-source) hands out seconds of audio at
once, and a null sink's monitor renders ahead of real time, so neither says when a sound
happened. A ``module-pipe-source`` fed from a FIFO by this test, 10 ms at a time on the
monotonic clock, does: its samples reach PortAudio when they are written.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from tests.capture.conftest import decode, pipe_source
from zhishiyun.capture.recorder import Recorder
from zhishiyun.config import RecordingSettings

RATE = 16000
FADE_IN = 10  # 10 ms windows: a segment's first AAC frame (64 ms) decodes faded in


@pytest.fixture
def paced_tone(pulse_mic, monkeypatch, tmp_path):
    """A private pipe source fed a 1 kHz tone; yields ``start(speed) -> stop() -> t``.

    ``speed`` 1.01 feeds 1 % more samples per second than the nominal rate: a microphone
    whose clock runs fast against ours.
    """
    with pipe_source(tmp_path, monkeypatch, "zsy_sync", RATE) as fifo:
        yield from _paced_feed(fifo)


def _paced_feed(fifo):
    done, silent_from = threading.Event(), []
    chunk = RATE // 100
    tone = (0.3 * np.sin(2 * np.pi * 1000 * np.arange(RATE) / RATE)).astype(np.float32)

    def feed(speed):
        with open(fifo, "wb", buffering=0) as pipe:
            start = time.monotonic()
            n = 0
            while not done.is_set():
                due = start + n / 100 / speed
                time.sleep(max(0.0, due - time.monotonic()))
                if silent_from:
                    data = np.zeros(chunk, np.float32)
                else:
                    data = tone[(n % 100) * chunk:(n % 100 + 1) * chunk]
                pipe.write(data.tobytes())
                n += 1

    feeders = []

    def stop() -> float:
        silent_from.append(time.monotonic())
        return silent_from[0]

    def start(speed: float = 1.0):
        feeder = threading.Thread(target=feed, args=(speed,), daemon=True)
        feeder.start()
        feeders.append(feeder)
        return stop

    try:
        yield start
    finally:
        done.set()
        for feeder in feeders:
            feeder.join(2)


def test_audio_lands_where_the_clock_says(paced_tone, camera_file, tmp_path):
    """The tone stops at a known instant; the recording goes silent at that instant."""
    settings = RecordingSettings(segment_seconds=2)
    stop_tone = paced_tone()
    recorder = Recorder(tmp_path, "k", settings, screen=False, camera=camera_file,
                        microphone="pulse")
    recorder.start()
    time.sleep(2.6)  # the tone stops in the second segment
    stopped_at = stop_tone() - recorder.t0 - 2
    time.sleep(1.0)
    summary = recorder.stop()
    second = next(s for s in summary["segments"] if s["track"] == "camera" and s["seq"] == 1)
    audio = decode(second["path"])["audio"]
    windows = audio[: audio.size // 160 * 160].reshape(-1, 160)  # 10 ms windows
    loud = np.sqrt((windows ** 2).mean(axis=1)) > 0.02
    assert loud[FADE_IN:FADE_IN + 20].all(), "the tone should be there from the start"
    quiet_from = FADE_IN + int(np.argmax(~loud[FADE_IN:]))
    assert not loud[quiet_from:].any()
    print(f"sync error {quiet_from / 100 - stopped_at:+.3f} s")
    assert quiet_from / 100 == pytest.approx(stopped_at, abs=0.1)


def test_fast_microphone_clock_stays_in_sync(paced_tone, camera_file, tmp_path):
    """A microphone 1 % fast would be 120 ms ahead after 12 s; the timeline follows ours."""
    settings = RecordingSettings(segment_seconds=4)
    stop_tone = paced_tone(1.01)
    recorder = Recorder(tmp_path, "k", settings, screen=False, camera=camera_file,
                        microphone="pulse")
    recorder.start()
    time.sleep(12.5)  # the tone stops in the fourth segment
    stopped_at = stop_tone() - recorder.t0 - 12
    time.sleep(1.0)
    summary = recorder.stop()
    last = next(s for s in summary["segments"] if s["track"] == "camera" and s["seq"] == 3)
    audio = decode(last["path"])["audio"]
    windows = audio[: audio.size // 160 * 160].reshape(-1, 160)
    loud = np.sqrt((windows ** 2).mean(axis=1)) > 0.02
    assert loud[FADE_IN:FADE_IN + 20].all()
    quiet_from = FADE_IN + int(np.argmax(~loud[FADE_IN:]))
    print(f"sync error after 12 s at +1 %: {quiet_from / 100 - stopped_at:+.3f} s, "
          f"resyncs {summary['tracks']['camera']['audio_resyncs']}")
    assert quiet_from / 100 == pytest.approx(stopped_at, abs=0.1)
