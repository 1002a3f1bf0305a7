"""On Linux the recorder reads the microphone from PulseAudio itself, not through PortAudio.

Real PulseAudio (scripts/services.sh's 'vmic', a 440 Hz sine source) through the
recorder's own path; PortAudio stays the fallback where libpulse cannot be loaded or the
device is no PulseAudio source.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from tests.capture.conftest import decode, dominant_frequency
from tests.conftest import require
from zhishiyun.capture import pulse_input
from zhishiyun.capture.recorder import Recorder
from zhishiyun.config import RecordingSettings

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="not on this OS: PulseAudio is read natively on Linux")

RECORD_IN_CHILD = """
import json, sys, time
from pathlib import Path
from zhishiyun.capture.recorder import Recorder
from zhishiyun.config import RecordingSettings

out, camera, mic = sys.argv[1:4]
recorder = Recorder(Path(out), "k", RecordingSettings(segment_seconds=2), screen=False,
                    camera=Path(camera), microphone=mic)
recorder.start()
time.sleep(3)
summary = recorder.stop()
maps = Path("/proc/self/maps").read_text()
print(json.dumps({"summary": summary, "sounddevice": "sounddevice" in sys.modules,
                  "portaudio_mapped": "libportaudio" in maps,
                  "alsa_plugins_mapped": "alsa-lib/libasound_module" in maps}))
"""


@pytest.fixture(scope="module")
def pulse_server() -> None:
    if not pulse_input.available():
        require("pulseaudio", "libpulse-simple or pasimple cannot be loaded")
    if subprocess.run(["pactl", "info"], capture_output=True).returncode != 0:
        require("pulseaudio", "no PulseAudio server (run scripts/services.sh start_audio)")
    sources = subprocess.run(["pactl", "list", "short", "sources"], capture_output=True,
                             text=True).stdout
    if "vmic" not in sources.split():
        require("pulseaudio", "no 'vmic' source (run scripts/services.sh start_audio)")


def _record(tmp_path, camera_file, microphone: str, seconds: float = 3.0) -> dict:
    recorder = Recorder(tmp_path / "out", "k", RecordingSettings(segment_seconds=2),
                        screen=False, camera=camera_file, microphone=microphone)
    recorder.start()
    time.sleep(seconds)
    return recorder.stop()


def _tone_of_each_segment(summary: dict) -> list[float]:
    tones = []
    for segment in summary["segments"]:
        info = decode(segment["path"])
        assert info["audio_seconds"] >= segment["duration_ms"] / 1000 - 0.07
        tones.append(dominant_frequency(info["audio"], info["audio_rate"]))
    return tones


def test_recording_hears_pulseaudio_without_loading_portaudio(pulse_server, camera_file,
                                                              tmp_path):
    child = subprocess.run(
        [sys.executable, "-c", RECORD_IN_CHILD, str(tmp_path / "out"), str(camera_file),
         "pulse"], capture_output=True, text=True, timeout=60)
    assert child.returncode == 0, child.stderr[-2000:]
    result = json.loads(child.stdout)
    mic = result["summary"]["sources"]["microphone"]
    assert mic["backend"] == "PulseAudio"
    assert not mic["lost"] and mic["dropped"] == 0
    # neither PortAudio nor ALSA's plugins (~20 MB) are in the recording process
    assert not result["sounddevice"]
    assert not result["portaudio_mapped"] and not result["alsa_plugins_mapped"]
    tones = _tone_of_each_segment(result["summary"])
    assert len(tones) >= 2 and tones == pytest.approx([440] * len(tones), abs=10)


def test_a_pulseaudio_source_is_chosen_by_its_name(pulse_server, camera_file, tmp_path):
    # 'vmic' is no PortAudio device: only PulseAudio knows it
    summary = _record(tmp_path, camera_file, "vmic")
    mic = summary["sources"]["microphone"]
    assert mic["backend"] == "PulseAudio" and not mic["lost"]
    assert summary["tracks"]["camera"]["audio_seconds"] >= 2.5
    assert _tone_of_each_segment(summary) == pytest.approx([440] * len(summary["segments"]),
                                                           abs=10)


def test_portaudio_records_where_libpulse_cannot_be_loaded(pulse_server, pulse_mic,
                                                           camera_file, tmp_path, monkeypatch):
    monkeypatch.setattr(pulse_input, "LIBRARY", "libpulse-simple-not-here.so.0")
    summary = _record(tmp_path, camera_file, pulse_mic)
    mic = summary["sources"]["microphone"]
    assert mic["backend"] == "PortAudio" and not mic["lost"]
    assert summary["tracks"]["camera"]["audio_seconds"] >= 2.5
    assert _tone_of_each_segment(summary) == pytest.approx([440] * len(summary["segments"]),
                                                           abs=10)


def test_a_microphone_neither_knows_is_reported_lost_by_name(pulse_server, pulse_mic,
                                                             camera_file, tmp_path):
    summary = _record(tmp_path, camera_file, "no such microphone", seconds=1.0)
    assert summary["sources"]["microphone"]["lost"]
    [lost] = [e for e in summary["events"]
              if e["kind"] == "device_lost" and e["source"] == "microphone"]
    assert "no such microphone" in lost["detail"]
    assert summary["tracks"]["camera"]["frames_encoded"] > 5  # the camera records on
