"""On Linux the recorder reads the microphone from PulseAudio itself, not through PortAudio.

Real PulseAudio (scripts/services.sh's 'vmic', a 440 Hz sine source) through the
recorder's own path; PortAudio stays the fallback where libpulse cannot be loaded or the
device is no PulseAudio source.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.capture.conftest import decode, dominant_frequency
from tests.conftest import require
from tests.pulse_sources import private_server_environment
from zhishiyun.capture import pulse_input
from zhishiyun.capture.probe import record_audio_clip
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



def _load_sine_source(name: str, frequency: int) -> str:
    loaded = subprocess.run(
        ["pactl", "load-module", "module-sine-source", f"source_name={name}",
         f"frequency={frequency}", "rate=48000"], capture_output=True, text=True)
    if loaded.returncode != 0:
        require("pulseaudio", f"cannot load a sine source: {loaded.stderr.strip()}")
    return loaded.stdout.strip()


def _wait_for(events: list, kind: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(e.kind == kind and e.source == "microphone" for e in events):
            return True
        time.sleep(0.1)
    return False


def _last_second(summary: dict) -> tuple[dict, np.ndarray]:
    last = [s for s in summary["segments"] if s["track"] == "camera"][-1]
    info = decode(last["path"])
    # gaps are silence, not holes: the audio spans the segment to one AAC frame
    assert info["audio_seconds"] >= last["duration_ms"] / 1000 - 0.07
    return info, info["audio"][-info["audio_rate"]:]


def test_an_unplugged_source_goes_on_from_the_default_one(pulse_server, camera_file,
                                                          tmp_path):
    # PulseAudio moves a recording stream whose source goes away to the default source
    # (here 'vmic', 440 Hz): the recording goes on hearing that, without a gap
    name = f"zsy_unplugged_{os.getpid()}"
    module = _load_sine_source(name, 660)
    events = []
    recorder = Recorder(tmp_path / "out", "k", RecordingSettings(segment_seconds=3),
                        screen=False, camera=camera_file, microphone=name,
                        event_did_occur=events.append)
    try:
        recorder.start()
        time.sleep(2.0)
        subprocess.run(["pactl", "unload-module", module], check=True)
        time.sleep(4.5)
    finally:
        summary = recorder.stop()
        subprocess.run(["pactl", "unload-module", module], capture_output=True, check=False)
    assert summary["sources"]["microphone"]["backend"] == "PulseAudio"
    assert not any(e.source == "microphone" for e in events)
    segments = [s for s in summary["segments"] if s["track"] == "camera"]
    head = decode(segments[0]["path"])
    assert dominant_frequency(head["audio"][:head["audio_rate"]],
                              head["audio_rate"]) == pytest.approx(660, abs=10)
    info, tail = _last_second(summary)
    assert float(np.abs(tail).max()) > 0.2
    assert dominant_frequency(tail, info["audio_rate"]) == pytest.approx(440, abs=10)


@contextlib.contextmanager
def _private_sound_server(tmp_path, monkeypatch):
    """A PulseAudio server of this test's own (a 660 Hz source), made this process's."""
    folder = tmp_path / "pulse"
    folder.mkdir(mode=0o700)
    socket = folder / "native"
    command = ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1",
               "--use-pid-file=no", "--disallow-exit",
               f"--load=module-native-protocol-unix socket={socket} auth-anonymous=1",
               "--load=module-sine-source source_name=private_mic frequency=660 rate=48000"]
    env = private_server_environment(folder)
    monkeypatch.setenv("PULSE_SERVER", f"unix:{socket}")
    servers = []

    log_file = tmp_path / "pulseaudio.log"

    def start() -> None:
        socket.unlink(missing_ok=True)
        with open(log_file, "ab") as log_out:
            servers.append(subprocess.Popen([*command, "--log-target=stderr"], env=env,
                                            stdout=log_out, stderr=log_out))
        deadline = time.monotonic() + 20  # a loaded CI machine starts it slowly
        while subprocess.run(["pactl", "info"], capture_output=True).returncode != 0:
            if time.monotonic() > deadline or servers[-1].poll() is not None:
                said = log_file.read_text(errors="replace").strip().splitlines()[-3:]
                require("pulseaudio", "a private PulseAudio server does not start "
                                      f"(exit {servers[-1].poll()}): {' | '.join(said)}")
            time.sleep(0.1)

    def stop() -> None:
        servers[-1].kill()
        servers[-1].wait()

    start()
    try:
        yield start, stop
    finally:
        for server in servers:
            if server.poll() is None:
                server.kill()
                server.wait()


def test_a_sound_server_that_stops_is_lost_then_restored(pulse_server, camera_file,
                                                         tmp_path, monkeypatch):
    events = []
    with _private_sound_server(tmp_path, monkeypatch) as (start_server, stop_server):
        recorder = Recorder(tmp_path / "out", "k", RecordingSettings(segment_seconds=3),
                            screen=False, camera=camera_file, microphone=None,
                            event_did_occur=events.append)
        try:
            recorder.start()
            time.sleep(1.5)
            stop_server()  # PipeWire or PulseAudio restarting, or crashed
            assert _wait_for(events, "device_lost", 10), [e.kind for e in events]
            start_server()
            assert _wait_for(events, "device_restored", 10), [e.kind for e in events]
            time.sleep(3.5)
        finally:
            summary = recorder.stop()
    assert summary["sources"]["microphone"]["backend"] == "PulseAudio"
    # The video went on meanwhile: every 3 s camera segment is full of pictures (a loaded
    # machine may drop a stand-in frame that came a second late; that is counted, not a gap)
    camera_fps = RecordingSettings().camera_fps
    for segment in (s for s in summary["segments"] if s["track"] == "camera"):
        opening = 1.0 if segment["seq"] == 0 else 0.0  # the camera opens after the start
        seconds = segment["duration_ms"] / 1000 - opening
        frames = decode(segment["path"])["video_frames"]
        assert frames >= camera_fps * seconds * 0.7, (segment, frames)
    info, tail = _last_second(summary)
    assert float(np.abs(tail).max()) > 0.2  # the private server's tone is back
    assert dominant_frequency(tail, info["audio_rate"]) == pytest.approx(660, abs=10)


def test_a_clip_for_the_checks_comes_the_recordings_way(pulse_server):
    # the microphone check's clip: a PulseAudio source PortAudio does not list is heard too
    clip = record_audio_clip("vmic", seconds=0.5, samplerate=16000)
    assert clip.size == 8000
    assert dominant_frequency(clip, 16000) == pytest.approx(440, abs=10)
