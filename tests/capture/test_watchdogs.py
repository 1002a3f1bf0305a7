"""Disk space and lost devices while recording; the device test."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import time

import pytest

from tests.capture.conftest import decode, make_camera_file
from zhishiyun.capture.devicetest import run_device_test
from zhishiyun.capture.errors import RecordingError
from zhishiyun.capture.manifest import MANIFEST_NAME, read_lines, verify_manifest
from zhishiyun.capture.recorder import Recorder
from zhishiyun.config import RecordingSettings

KEY = "watch-key"
HUGE_GB = 1e9


def _free_gb(path) -> float:
    return shutil.disk_usage(path).free / 1024 ** 3


def test_no_start_below_the_disk_floor(camera_file, tmp_path):
    settings = RecordingSettings(disk_floor_gb=HUGE_GB)
    recorder = Recorder(tmp_path / "s", KEY, settings, screen=False, camera=camera_file,
                        microphone="none")
    with pytest.raises(RecordingError) as err:
        recorder.start()
    assert err.value.code == "disk_full"
    assert not list((tmp_path / "s").rglob("*.mp4"))


def test_disk_low_warns_then_floor_stops_cleanly(camera_file, tmp_path):
    events = []
    free = _free_gb(tmp_path)
    settings = RecordingSettings(segment_seconds=2, disk_warn_gb=free * 2,
                                 disk_floor_gb=free / 4)
    recorder = Recorder(tmp_path, KEY, settings, screen=False, camera=camera_file,
                        microphone="none", event_did_occur=events.append)
    recorder.start()
    time.sleep(1.0)
    # the free space now falls under the floor (the floor rises above what is free)
    recorder.settings = dataclasses.replace(settings, disk_floor_gb=free * 2)
    assert recorder.wait(10), "the recorder should stop by itself"
    summary = recorder.summary()
    kinds = [e.kind for e in events]
    assert kinds.count("disk_low") == 1
    assert "disk_full" in kinds and kinds[-1] == "stopped"
    assert summary["stop_reason"] == "disk_full"
    assert summary["segments"], "open segments are closed, not abandoned"
    for seg in summary["segments"]:
        assert decode(seg["path"])["video_frames"] > 0
    assert verify_manifest(read_lines(tmp_path / MANIFEST_NAME), KEY).ok


def _wait_for(events, kind, source, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(e.kind == kind and e.source == source for e in events):
            return True
        time.sleep(0.05)
    return False


def test_lost_camera_is_reported_retried_and_resumed(tmp_path):
    camera = make_camera_file(tmp_path / "cam.mp4", seconds=1.0)
    away = tmp_path / "cam-away.mp4"
    events = []
    recorder = Recorder(tmp_path / "s", KEY, RecordingSettings(segment_seconds=2),
                        screen=False, camera=camera, microphone="none",
                        event_did_occur=events.append)
    recorder.start()
    time.sleep(0.3)
    os.rename(camera, away)  # the stand-in "camera" is unplugged
    assert _wait_for(events, "device_lost", "camera", 5)
    os.rename(away, camera)
    assert _wait_for(events, "device_restored", "camera", 6)
    time.sleep(1.0)
    summary = recorder.stop()
    assert not summary["sources"]["camera"]["lost"]
    frames = 0
    for seg in summary["segments"]:
        info = decode(seg["path"])
        assert info["video_frames"] > 0  # segments during the loss still decode
        frames += info["video_frames"]
    assert summary["sources"]["camera"]["encoded"] > 15  # before and after the loss
    assert verify_manifest(read_lines(tmp_path / "s" / MANIFEST_NAME), KEY).ok


def test_device_test_measures_camera_and_tone(camera_file, pulse_mic, tmp_path):
    result = run_device_test(2.0, camera=camera_file, microphone=pulse_mic, out_dir=tmp_path)
    assert result.ok, result.problems
    assert 10 <= result.camera_fps <= 17
    assert result.audio_peak > 0.2 and result.audio_dbfs > -20
    assert decode(result.camera_file)["video_frames"] == result.camera_frames > 20


def test_device_test_names_missing_camera_and_silent_microphone(pulse_mic, tmp_path,
                                                                monkeypatch):
    if not shutil.which("pactl"):
        pytest.skip("pactl is needed to make a silent microphone")
    sink = f"zsy_silent_{os.getpid()}"
    loaded = subprocess.run(["pactl", "load-module", "module-null-sink", f"sink_name={sink}"],
                            capture_output=True, text=True)
    if loaded.returncode != 0:
        pytest.skip(f"cannot load a PulseAudio null sink: {loaded.stderr.strip()}")
    monkeypatch.setenv("PULSE_SOURCE", f"{sink}.monitor")  # a microphone hearing nothing
    try:
        result = run_device_test(1.5, camera=63, microphone=pulse_mic, out_dir=tmp_path)
    finally:
        subprocess.run(["pactl", "unload-module", loaded.stdout.strip()], check=False)
    codes = {p.code for p in result.problems}
    assert codes == {"camera_unavailable", "microphone_silent"}
    assert all(p.message for p in result.problems)
