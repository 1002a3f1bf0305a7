"""Crash safety: SIGKILL a real `zhishiyun record`, then recover what it left open."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.capture.conftest import decode
from zhishiyun.capture.manifest import MANIFEST_NAME, read_lines, read_records, verify_manifest
from zhishiyun.capture.recorder import Recorder
from zhishiyun.capture.recovery import recover_session

KEY = "crash-test-key"


def _zhishiyun(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "ZHISHIYUN_RECORD_KEY": KEY}
    return subprocess.Popen([sys.executable, "-m", "zhishiyun", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **kwargs)


def _markers(out: Path) -> dict[str, dict]:
    found = {}
    for marker in out.glob("*/*.open.json"):
        data = json.loads(marker.read_text())
        found[data["track"]] = data
    return found


def test_sigkill_loses_at_most_two_seconds(display, pulse_mic, camera_file, tmp_path):
    out = tmp_path / "session"
    proc = _zhishiyun("record", "--out", str(out), "--seconds", "60", "--camera",
                      str(camera_file), "--mic", pulse_mic)
    try:
        deadline = time.monotonic() + 30
        while len(_markers(out)) < 2:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "recording did not start"
            time.sleep(0.1)
        markers = _markers(out)
        segment_start = markers["camera"]["monotonic_start"]  # CLOCK_MONOTONIC is system-wide
        time.sleep(max(0.0, segment_start + 4.0 - time.monotonic()))
        killed_at = time.monotonic()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert read_records(out / MANIFEST_NAME) == []  # nothing was closed cleanly
    recorded = killed_at - segment_start

    # the next start recovers the open segments, then records on from the next seq
    again = _zhishiyun("record", "--out", str(out), "--seconds", "1", "--camera",
                       str(camera_file), "--mic", "none", "--no-screen")
    stdout, stderr = again.communicate(timeout=60)
    assert again.returncode == 0, stderr
    summary = json.loads(stdout)
    recovered = {s["track"]: s for s in summary["recovered"]}
    assert set(recovered) == {"screen", "camera"}
    for track, seg in recovered.items():
        info = decode(Path(seg["path"]))
        assert info["video_frames"] > 0
        print(f"{track}: recorded {recorded:.2f} s before SIGKILL, recovered "
              f"{seg['duration_ms'] / 1000:.2f} s ({info['video_end']:.2f} s to the last "
              f"frame, {info['video_frames']} frames)")
        assert recorded - seg["duration_ms"] / 1000 <= 2.0, (track, recorded, seg)
        assert seg["start"] == markers[track]["start"]
    # the camera changes all the time: its frames themselves reach within 2 s of the kill
    assert recorded - decode(Path(recovered["camera"]["path"]))["video_end"] <= 2.0
    # Xvfb's screen does not change: its one picture is kept, and keyframes every 2 s
    assert decode(Path(recovered["screen"]["path"]))["video_end"] >= recorded - 4.1
    camera = decode(Path(recovered["camera"]["path"]))
    assert camera["audio_seconds"] > 0  # the audio that was written survives too
    assert [s["seq"] for s in summary["segments"]] == [1]
    assert not list(out.glob("*/*.open.json"))

    records = read_records(out / MANIFEST_NAME)
    assert {(r["track"], r["seq"], r.get("recovered", False)) for r in records} == {
        ("screen", 0, True), ("camera", 0, True), ("camera", 1, False)}
    assert verify_manifest(read_lines(out / MANIFEST_NAME), KEY).ok
    assert recover_session(out, KEY).recovered == []  # nothing is recovered twice


def test_undecodable_segment_is_kept_reported_and_still_accounted_for(tmp_path):
    broken = tmp_path / "camera" / "000000.mp4"
    broken.parent.mkdir()
    broken.write_bytes(b"\x00\x00\x00\x18ftypisom" + os.urandom(2000))
    fine_but_empty = tmp_path / "screen" / "000000.mp4"
    fine_but_empty.parent.mkdir()
    fine_but_empty.write_bytes(b"")
    original = broken.read_bytes()
    report = recover_session(tmp_path, KEY)
    assert {Path(u["path"]) for u in report.unreadable} == {broken, fine_but_empty}
    assert broken.read_bytes() == original and fine_but_empty.exists()
    # The undecodable bytes are still accounted for (and uploaded) so the seq leaves no gap.
    assert [(s.track, s.seq, s.path) for s in report.recovered] == [("camera", 0, broken)]
    records = read_records(tmp_path / MANIFEST_NAME)
    assert [(r["track"], r["seq"], r["undecodable"], r["frames"]) for r in records] == [
        ("camera", 0, True, 0)]
    assert records[0]["bytes"] == len(original)
    assert verify_manifest(read_lines(tmp_path / MANIFEST_NAME), KEY).ok
    assert recover_session(tmp_path, KEY).recovered == []  # nothing is recovered twice


def test_recorder_start_reports_unreadable_and_goes_on_after_it(display, camera_file, tmp_path):
    broken = tmp_path / "camera" / "000000.mp4"
    broken.parent.mkdir()
    broken.write_bytes(b"not a video")
    events = []
    recorder = Recorder(tmp_path, KEY, screen=False, camera=camera_file, microphone="none",
                        event_did_occur=events.append)
    recorder.start()
    time.sleep(0.3)
    summary = recorder.stop()
    assert {"segment_unreadable", "segment_recovered"} <= {e.kind for e in events}
    assert summary["unreadable"][0]["path"] == str(broken)
    assert broken.read_bytes() == b"not a video"
    assert [s["seq"] for s in summary["segments"]] == [1]
