"""Shared pieces of the device-check tests: one check run, stand-in videos, PulseAudio."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from zhishiyun.checks import CheckRunner
from zhishiyun.config import IntegritySettings

#: The organisation allows stand-in devices (video files as the camera) for these tests.
STAND_INS = IntegritySettings(stand_in_devices=True)


def run_one(check, context):
    """The result of running ``check`` alone in ``context``."""
    return CheckRunner([check], context).run().results[0]


def write_video(path, make_frame, frames=8):
    """An MJPEG AVI of ``frames`` 320×240 pictures from ``make_frame(i)``; its path."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 15, (320, 240))
    assert writer.isOpened()
    for i in range(frames):
        writer.write(make_frame(i))
    writer.release()
    return path


def pulse_running() -> bool:
    """True when a PulseAudio server answers."""
    return shutil.which("pactl") is not None and subprocess.run(
        ["pactl", "info"], capture_output=True).returncode == 0


needs_pulse = pytest.mark.skipif(not pulse_running(),
                                 reason="no PulseAudio (start_audio in scripts/services.sh)")
