"""The device test behind the GUI's 设备检测 page: record a few seconds, then measure them.

:func:`run_device_test` records camera + microphone (optionally the screen) through the
real recorder into a temporary folder, decodes what was written and reports the measured
frame rate, the audio level and the problems a candidate can act on. It blocks for about
``seconds`` + 2 s: call it off the UI thread; ``cancel`` stops it early.
"""

from __future__ import annotations

import dataclasses
import secrets
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np

from zhishiyun.capture.probe import dbfs
from zhishiyun.capture.recorder import Recorder
from zhishiyun.config import RecordingSettings
from zhishiyun.i18n import _

BLACK_LUMA = 16.0
SILENCE_PEAK = 0.01  # -40 dBFS
LOW_FPS_RATIO = 0.6


@dataclass(frozen=True)
class Problem:
    """Something wrong that the candidate can fix; ``code`` is stable for tests/UI."""

    code: str
    message: str


@dataclass
class DeviceTestResult:
    """What the device test recorded and measured."""

    #: Camera + microphone recording to play back (None when nothing was written).
    camera_file: Path | None
    screen_file: Path | None
    seconds: float
    camera_frames: int
    camera_fps: float
    black_frame_ratio: float
    audio_rms: float
    audio_peak: float
    dropped_frames: int
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No problem found."""
        return not self.problems

    @property
    def audio_dbfs(self) -> float:
        """Audio RMS in dB full scale."""
        return dbfs(self.audio_rms)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        data = dataclasses.asdict(self)
        data.update(camera_file=str(self.camera_file) if self.camera_file else None,
                    screen_file=str(self.screen_file) if self.screen_file else None,
                    ok=self.ok, audio_dbfs=round(self.audio_dbfs, 1))
        return data


def _measure(path: Path) -> tuple[int, float, float, np.ndarray]:
    """Video frame count, video duration (s), share of black frames, audio samples."""
    frames, black, last_time = 0, 0, 0.0
    audio: list[np.ndarray] = []
    with av.open(str(path)) as container:
        streams = [s for s in container.streams if s.type in ("video", "audio")]
        for packet in container.demux(*streams):
            for frame in packet.decode():
                if packet.stream.type == "video":
                    frames += 1
                    last_time = max(last_time, frame.time or 0.0)
                    luma = frame.to_ndarray(format="gray")
                    black += float(luma.mean()) < BLACK_LUMA
                else:
                    audio.append(frame.to_ndarray().reshape(-1))
    samples = np.concatenate(audio) if audio else np.zeros(0, np.float32)
    return frames, last_time, (black / frames if frames else 1.0), samples


def run_device_test(
    seconds: float = 10.0,
    *,
    camera: int | str | Path | None = 0,
    microphone: str | None = None,
    screen: bool = False,
    settings: RecordingSettings | None = None,
    out_dir: Path | None = None,
    cancel: threading.Event | None = None,
) -> DeviceTestResult:
    """Record ``seconds`` of camera + microphone (and screen) and measure the result.

    Args:
        seconds: how long to record.
        camera: camera index or stand-in video file (``None``: no camera).
        microphone: device name, ``None`` for the default, ``"none"`` for no audio.
        screen: also record the screen.
        settings: recording settings (defaults from ``zhishiyun.config``).
        out_dir: where to write (a new temporary folder when ``None``; the caller
            deletes it when playback is done).
        cancel: set it to stop early; what was recorded is still measured.

    Raises:
        RecordingError: recording could not start (no encoder, no disk space).
        DeviceError: the screen was asked for and cannot be captured.
    """
    base = settings or RecordingSettings()
    test_settings = dataclasses.replace(base, segment_seconds=int(seconds) + 60)
    folder = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="zhishiyun-devtest-"))
    recorder = Recorder(folder, secrets.token_bytes(16), test_settings, first_seq=0,
                        screen=screen, camera=camera, microphone=microphone)
    recorder.start()
    (cancel or threading.Event()).wait(seconds)
    summary = recorder.stop("device_test")
    files = {s["track"]: Path(s["path"]) for s in summary["segments"]}
    camera_file = files.get("camera")
    frames, duration, black_ratio, samples = 0, 0.0, 1.0, np.zeros(0, np.float32)
    if camera_file is not None:
        frames, duration, black_ratio, samples = _measure(camera_file)
    recorded = summary["seconds"] or seconds
    real_frames = summary["sources"].get("camera", {}).get("encoded", 0)
    fps = real_frames / recorded if recorded else 0.0
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if samples.size else 0.0
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    dropped = sum(s.get("dropped", 0) for s in summary["sources"].values())
    problems = _problems(recorder, camera, microphone, fps, test_settings.camera_fps,
                         black_ratio, peak, dropped)
    return DeviceTestResult(camera_file, files.get("screen"), round(recorded, 3), frames,
                            round(fps, 2), round(black_ratio, 3), round(rms, 5),
                            round(peak, 5), dropped, problems)


def _problems(recorder: Recorder, camera: Any, microphone: str | None, fps: float,
              wanted_fps: float, black_ratio: float, peak: float,
              dropped: int) -> list[Problem]:
    problems = []
    lost = {e.source for e in recorder.events if e.kind == "device_lost"}
    if camera is not None:
        if "camera" in lost or fps == 0:
            problems.append(Problem("camera_unavailable", _(
                "The camera sent no picture. Plug it in, close other programs that use it "
                "and allow camera access in the system privacy settings.")))
        elif fps < wanted_fps * LOW_FPS_RATIO:
            problems.append(Problem("camera_slow", _(
                "The camera delivers only {fps:.1f} frames per second; close other "
                "programs or use another camera.").format(fps=fps)))
        if fps > 0 and black_ratio > 0.5:
            problems.append(Problem("camera_black", _(
                "The camera picture is black. Remove the lens cover and turn on a light.")))
    if (microphone or "").lower() != "none":
        if "microphone" in lost:
            problems.append(Problem("microphone_unavailable", _(
                "The microphone cannot be used. Plug it in and allow microphone access in "
                "the system privacy settings.")))
        elif peak < SILENCE_PEAK:
            problems.append(Problem("microphone_silent", _(
                "No sound was heard. Check that the microphone is not muted and speak "
                "during the test.")))
    if dropped:
        problems.append(Problem("frames_dropped", _(
            "{count} frames were dropped; the computer may be too busy. Close other "
            "programs.").format(count=dropped)))
    return problems
