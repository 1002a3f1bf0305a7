"""Fixtures for the capture tests: real X display, real PulseAudio mic, a camera stand-in."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from zhishiyun.capture.errors import DeviceError

MIC = "pulse"  # PortAudio's PulseAudio device; scripts/services.sh makes 'vmic' its default


def _display_problem() -> str:
    if not os.environ.get("DISPLAY") and os.name == "posix" and not _is_mac():
        return "no DISPLAY (run under scripts/services.sh start_display)"
    from zhishiyun.capture.devices import list_screens

    try:
        list_screens()
    except DeviceError as exc:
        return f"screen capture unavailable: {exc.message}"
    return ""


def _is_mac() -> bool:
    import sys

    return sys.platform == "darwin"


def _mic_problem() -> str:
    from zhishiyun.capture.devices import portaudio_microphones
    from zhishiyun.capture.probe import record_audio_clip

    try:  # 'pulse' is PortAudio's name (the pickers list PulseAudio's sources on Linux)
        names = [m.name for m in portaudio_microphones()]
    except DeviceError as exc:
        return f"no audio system: {exc.message}"
    if MIC not in names:
        return f"no PulseAudio input {MIC!r} (run scripts/services.sh start_audio); have {names}"
    try:
        clip = record_audio_clip(MIC, 0.3)
    except DeviceError as exc:
        return f"virtual microphone unusable: {exc.message}"
    if float(np.max(np.abs(clip))) < 0.05:
        return "the virtual microphone is silent (expected the 440 Hz 'vmic' source)"
    return ""


@pytest.fixture(scope="session")
def display() -> None:
    problem = _display_problem()
    if problem:
        pytest.skip(problem)


@pytest.fixture(scope="session")
def pulse_mic() -> str:
    problem = _mic_problem()
    if problem:
        pytest.skip(problem)
    return MIC


@contextlib.contextmanager
def pipe_source(tmp_path: Path, monkeypatch, prefix: str, rate: int):
    """A private PulseAudio pipe source made PortAudio's default; yields its FIFO path.

    Feed float32 mono samples at ``rate`` into the FIFO in real time; the source is unloaded
    afterwards. Skips the test where PulseAudio cannot make one.
    """
    if not shutil.which("pactl"):
        pytest.skip("pactl is needed for a pipe source")
    fifo = tmp_path / f"{prefix}.fifo"
    name = f"{prefix}_{os.getpid()}"
    loaded = subprocess.run(
        ["pactl", "load-module", "module-pipe-source", f"source_name={name}",
         f"file={fifo}", "format=float32le", f"rate={rate}", "channels=1"],
        capture_output=True, text=True)
    if loaded.returncode != 0:
        pytest.skip(f"cannot load a PulseAudio pipe source: {loaded.stderr.strip()}")
    monkeypatch.setenv("PULSE_SOURCE", name)
    try:
        yield fifo
    finally:
        subprocess.run(["pactl", "unload-module", loaded.stdout.strip()], check=False)


def make_camera_file(path: Path, seconds: float = 3.0, fps: int = 15) -> Path:
    """A moving test pattern (640×480 H.264) standing in for a webcam."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 640, 480, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        y, x = np.mgrid[0:480, 0:640]
        for i in range(int(seconds * fps)):
            image = np.stack([(x + 8 * i) % 256, (y + 4 * i) % 256,
                              np.full_like(x, (i * 17) % 256)], axis=-1).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture(scope="session")
def camera_file(tmp_path_factory) -> Path:
    return make_camera_file(tmp_path_factory.mktemp("camera") / "camera.mp4")


def decode(path: Path) -> dict:
    """Decode a whole file: frame counts, stream ends, audio samples."""
    result = {"video_frames": 0, "video_end": 0.0, "video_start": None, "audio": [],
              "audio_start": None, "audio_rate": 0}
    with av.open(str(path)) as container:
        for frame in container.decode(*container.streams):
            if isinstance(frame, av.VideoFrame):
                result["video_frames"] += 1
                result["video_end"] = max(result["video_end"], frame.time)
                if result["video_start"] is None:
                    result["video_start"] = frame.time
            else:
                result["audio"].append(frame.to_ndarray().reshape(-1))
                result["audio_rate"] = frame.sample_rate
                if result["audio_start"] is None:
                    result["audio_start"] = frame.time
    audio = np.concatenate(result["audio"]) if result["audio"] else np.zeros(0)
    result["audio"] = audio
    result["audio_seconds"] = audio.size / result["audio_rate"] if result["audio_rate"] else 0
    return result


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.fft.rfftfreq(samples.size, 1 / rate)[int(np.argmax(spectrum))])


@pytest.fixture(autouse=True)
def _restore_logging():
    """`zhishiyun.cli.main` adds handlers bound to pytest's captured streams; drop them."""
    import logging

    root = logging.getLogger()
    before = list(root.handlers)
    yield
    for handler in root.handlers[:]:
        if handler not in before:
            root.removeHandler(handler)
            handler.close()
