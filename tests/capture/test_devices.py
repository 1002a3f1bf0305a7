"""Device listing, one-shot probes and the `devices`/`record` command lines."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.capture.conftest import dominant_frequency
from zhishiyun.capture import pulse_input
from zhishiyun.capture.devices import (
    is_pulse_source,
    list_cameras,
    list_microphones,
    list_screens,
)
from zhishiyun.capture.errors import DeviceError
from zhishiyun.capture.probe import grab_camera_frame, peak, record_audio_clip, rms
from zhishiyun.cli import main

SOURCE = "vmic"  # scripts/services.sh's PulseAudio source


def test_screens_are_listed_with_sizes(display):
    screens = list_screens()
    assert screens
    assert sum(s.is_primary for s in screens) == 1
    assert all(s.width > 0 and s.height > 0 for s in screens)


def test_microphones_are_listed(pulse_mic):
    mics = list_microphones()  # PulseAudio's sources where the recorder reads PulseAudio
    assert (SOURCE if pulse_input.available() else pulse_mic) in [m.name for m in mics]
    assert sum(m.is_default for m in mics) <= 1
    # a source has no rate of its own to tell: the server converts to the recorder's
    assert all(m.channels > 0 and (m.default_samplerate > 0 or is_pulse_source(m))
               for m in mics)


def test_cameras_list_only_openable_devices():
    for camera in list_cameras():
        assert camera.width > 0 and camera.height > 0


def test_grab_frame_from_stand_in_file(camera_file):
    frame = grab_camera_frame(str(camera_file), timeout_s=5)
    assert frame.shape == (480, 640, 3) and frame.dtype == np.uint8
    assert frame.std() > 10  # a picture, not a flat fill


def test_grab_frame_errors_are_actionable(tmp_path):
    with pytest.raises(DeviceError) as missing_file:
        grab_camera_frame(str(tmp_path / "nope.mp4"))
    assert missing_file.value.code == "camera_not_found"
    assert missing_file.value.hint
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("hello")
    with pytest.raises(DeviceError) as unreadable:
        grab_camera_frame(str(not_video))
    assert unreadable.value.code == "camera_unreadable"
    with pytest.raises(DeviceError) as no_camera:
        grab_camera_frame(63, timeout_s=1)
    assert no_camera.value.code == "camera_unavailable"


def test_audio_clip_hears_the_tone(pulse_mic):
    clip = record_audio_clip(pulse_mic, seconds=0.5, samplerate=16000)
    assert clip.size == 8000
    assert 0.1 < rms(clip) <= peak(clip) <= 1.0
    assert dominant_frequency(clip, 16000) == pytest.approx(440, abs=10)


def test_unknown_microphone_names_the_alternatives(pulse_mic):
    with pytest.raises(DeviceError) as err:
        record_audio_clip("no such microphone", seconds=0.2)
    assert err.value.code == "microphone_not_found"
    assert pulse_mic in err.value.hint


def test_devices_command_json(display, pulse_mic, capsys):
    assert main(["devices", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing["screens"] and listing["screens"][0]["width"] > 0
    wanted = SOURCE if pulse_input.available() else pulse_mic
    assert wanted in [m["name"] for m in listing["microphones"]]
    assert listing["problems"] == []


def test_record_command_refuses_a_missing_camera_file(tmp_path, capsys):
    code = main(["record", "--out", str(tmp_path / "out"), "--seconds", "1",
                 "--camera", str(tmp_path / "missing.mp4"), "--no-screen"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    errors = [line for line in err if line.startswith("zhishiyun: error:")]
    assert len(errors) == 1 and "missing.mp4" in errors[0]
    assert not (tmp_path / "out").exists()


def test_record_command_prints_a_summary(display, camera_file, tmp_path, capsys):
    code = main(["record", "--out", str(tmp_path), "--seconds", "1.5", "--camera",
                 str(camera_file), "--mic", "none"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["encoder"]["video"] == "libx264"
    assert {s["track"] for s in summary["segments"]} == {"screen", "camera"}
    assert summary["bytes"] == sum(s["bytes"] for s in summary["segments"]) > 0
    assert summary["cpu_seconds"] > 0
    for key in ("captured", "encoded", "dropped"):
        assert key in summary["sources"]["camera"]


def test_record_without_a_display_fails_in_one_line_and_writes_nothing(camera_file, tmp_path):
    import os
    import subprocess
    import sys

    if not sys.platform.startswith("linux"):
        pytest.skip("only X11 screen capture depends on DISPLAY")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "zhishiyun", "record", "--out", str(out),
                           "--seconds", "1", "--camera", str(camera_file), "--mic", "none"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("zhishiyun: error:")]
    assert len(errors) == 1 and "screen" in errors[0]
    assert not out.exists() or not any(out.iterdir())
