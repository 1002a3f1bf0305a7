"""The microphone meter: RMS and peak of the latest chunk, worked out when read."""

from __future__ import annotations

import numpy as np
import pytest

from zhishiyun.capture.sources import MicrophoneSource


def test_the_meter_shows_the_latest_chunks_rms_and_peak():
    mic = MicrophoneSource(rate=16000)
    assert (mic.level_rms, mic.level_peak) == (0.0, 0.0)  # nothing heard yet
    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(1600) / 16000)).astype(np.float32)
    mic.note_level(tone)
    assert mic.level_rms == pytest.approx(0.5 / np.sqrt(2), rel=1e-3)
    assert mic.level_peak == pytest.approx(0.5, rel=1e-3)
    quiet = np.full(1600, -0.25, np.float32)  # a negative peak counts as much
    mic.note_level(quiet)
    assert (mic.level_rms, mic.level_peak) == pytest.approx((0.25, 0.25))
    mic.note_level(np.zeros(0, np.float32))  # an empty chunk leaves the meter as it was
    assert mic.level_peak == pytest.approx(0.25)
