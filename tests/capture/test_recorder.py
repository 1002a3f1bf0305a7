"""A real recording (Xvfb screen, camera stand-in file, PulseAudio 440 Hz mic), decoded."""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import subprocess
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from tests.capture.conftest import decode, dominant_frequency
from zhishiyun.capture.manifest import (
    MANIFEST_NAME,
    canonical_bytes,
    read_lines,
    read_records,
    verify_manifest,
)
from zhishiyun.capture.recorder import Recorder
from zhishiyun.config import RecordingSettings

KEY = b"test-session-key"
SEGMENT_S = 2
RECORD_S = 5.0
SERVER_OFFSET = timedelta(hours=8, seconds=-42)  # a server clock that is not ours
SETTINGS = RecordingSettings(segment_seconds=SEGMENT_S)


def server_now() -> datetime:
    return datetime.now(timezone(timedelta(hours=8))) + timedelta(seconds=-42)


def _screen_moves(timeout: float) -> bool:
    """True once two grabs of the primary screen 0.3 s apart differ."""
    from zhishiyun.capture.devices import mss_instance

    deadline = time.monotonic() + timeout
    with mss_instance() as screens:
        monitor = screens.monitors[1]
        while time.monotonic() < deadline:
            first = bytes(screens.grab(monitor).rgb)
            time.sleep(0.3)
            if bytes(screens.grab(monitor).rgb) != first:
                return True
    return False


@pytest.fixture(scope="module")
def recording(display, pulse_mic, camera_file, tmp_path_factory):
    """Record ~5 s with moving content on the screen (ffplay) and keep what was seen."""
    session = tmp_path_factory.mktemp("session")
    closed, threads = [], []

    def on_close(segment):
        closed.append(segment)
        threads.append(threading.current_thread().name)

    player = None
    if shutil.which("ffplay"):
        player = subprocess.Popen(
            ["ffplay", "-hide_banner", "-loglevel", "error", "-f", "lavfi",
             "-i", "testsrc2=size=320x240:rate=10", "-an", "-noborder", "-left", "0",
             "-top", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not _screen_moves(timeout=8.0):  # ffplay's window may take a while to map
            player.terminate()
            player.wait()
            player = None
    recorder = Recorder(session, KEY, SETTINGS, camera=camera_file, microphone=pulse_mic,
                        now_server=server_now, segment_did_close=on_close)
    try:
        before = server_now()
        recorder.start()
        time.sleep(RECORD_S)
        summary = recorder.stop()
    finally:
        if player is not None:
            player.terminate()
            player.wait()
    return {"dir": session, "summary": summary, "closed": closed, "threads": threads,
            "before": before, "moving_screen": player is not None}


def test_segments_cut_on_shared_boundaries(recording):
    summary = recording["summary"]
    by_track = {}
    for seg in summary["segments"]:
        by_track.setdefault(seg["track"], []).append(seg)
    assert set(by_track) == {"screen", "camera"}
    expected = int(summary["seconds"] // SEGMENT_S) + 1
    for track, segs in by_track.items():
        assert [s["seq"] for s in segs] == list(range(expected)), track
        assert all(s["duration_ms"] == SEGMENT_S * 1000 for s in segs[:-1])
        assert (recording["dir"] / track / "000000.mp4").exists()
    screen_starts = [s["start"] for s in by_track["screen"]]
    assert screen_starts == [s["start"] for s in by_track["camera"]]
    first = datetime.fromisoformat(screen_starts[0])
    assert first.utcoffset() == timedelta(hours=8)  # start is in the injected server time
    assert abs((first - recording["before"]).total_seconds()) < 1.5


def test_every_file_decodes_with_expected_frames_and_duration(recording):
    settings = SETTINGS
    for seg in recording["summary"]["segments"]:
        info = decode(seg["path"])
        seconds = seg["duration_ms"] / 1000
        assert info["video_start"] == 0.0
        assert info["video_end"] == pytest.approx(seconds, abs=0.35), seg
        opening = 1.0 if seg["seq"] == 0 else 0.0  # devices open after the start
        if seg["track"] == "camera":
            assert info["video_frames"] >= settings.camera_fps * (seconds - opening) * 0.7, seg
            assert info["video_frames"] <= settings.camera_fps * seconds * 1.15 + 3, seg
        elif recording["moving_screen"]:
            assert info["video_frames"] >= settings.screen_fps * (seconds - opening) * 0.5, (
                seg, recording["summary"]["sources"].get("screen"))


def test_camera_track_audio_is_the_tone_and_in_sync(recording):
    for seg in recording["summary"]["segments"]:
        if seg["track"] != "camera":
            continue
        info = decode(seg["path"])
        seconds = seg["duration_ms"] / 1000
        assert info["audio_rate"] == 16000
        assert info["audio_start"] == 0.0
        # audio covers the whole segment (+ the 64 ms overlap and frame padding), no gap
        assert seconds <= info["audio_seconds"] <= seconds + 0.2, seg
        middle = info["audio"][int(0.25 * 16000):int((seconds - 0.25) * 16000)]
        assert float(abs(middle).max()) > 0.2  # not silent
        assert dominant_frequency(middle, 16000) == pytest.approx(440, abs=10)
        if seg["seq"] > 0:  # continuous audio: heard from the first frame's fade-in on
            sound = abs(info["audio"]) > 0.05
            assert int(sound.argmax()) <= 1024 + 0.01 * 16000, "audio starts late"


def test_manifest_lines_match_files_and_verify(recording):
    session = recording["dir"]
    records = read_records(session / MANIFEST_NAME)
    summary = recording["summary"]
    assert len(records) == len(summary["segments"])
    for record in records:
        path = session / record["track"] / f"{record['seq']:06d}.mp4"
        assert record["bytes"] == path.stat().st_size
        assert record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert record["encoder"] == summary["encoder"]["video"]
        assert not (path.with_name(f"{record['seq']:06d}.open.json")).exists()
    result = verify_manifest(read_lines(session / MANIFEST_NAME), KEY)
    assert result.ok, result.to_dict()


def test_segment_did_close_fires_per_segment_on_closer_threads(recording):
    closed = recording["closed"]
    assert sorted((s.track, s.seq) for s in closed) == sorted(
        (s["track"], s["seq"]) for s in recording["summary"]["segments"])
    assert set(recording["threads"]) == {"close-screen", "close-camera"}


def test_tampered_manifest_fails(recording):
    lines = read_lines(recording["dir"] / MANIFEST_NAME)
    removed = [line for i, line in enumerate(lines) if i != 2]
    assert not verify_manifest(removed, KEY).ok
    import json

    record = json.loads(lines[1])
    record["bytes"] += 1
    edited = list(lines)
    edited[1] = canonical_bytes(record)
    result = verify_manifest(edited, KEY)
    assert not result.ok and result.tracks[record["track"]].bad_mac == [record["seq"]]


def test_a_segment_after_a_boundary_opens_with_the_next_picture_not_a_repeat(recording):
    """Only the very first segment opens with a picture the camera did not hand over."""
    summary = recording["summary"]
    camera = summary["tracks"]["camera"]
    segments = [s for s in summary["segments"] if s["track"] == "camera"]
    assert len(segments) >= 3
    handed_over = summary["sources"]["camera"]["encoded"]
    # the first segment's opening picture (the camera opens after the start) and at most
    # one closing frame are the only pictures encoded beyond the camera's own
    assert camera["frames_encoded"] - camera["heartbeat_frames"] <= handed_over + 2, camera


def test_counters_reported(recording):
    sources = recording["summary"]["sources"]
    assert sources["camera"]["encoded"] > 0
    assert sources["microphone"]["dropped"] == 0
    assert sources["microphone"]["rms"] > 0.1
    assert recording["summary"]["tracks"]["camera"]["audio_seconds"] > RECORD_S * 0.8


def test_static_screen_drops_repeated_frames_and_resumes_numbering(
        display, camera_file, tmp_path):
    """No moving content: repeated screen frames are skipped; a second run continues seq."""
    settings = dataclasses.replace(SETTINGS, segment_seconds=3)
    first = Recorder(tmp_path, KEY, settings, camera=camera_file, microphone="none")
    first.start()
    time.sleep(2.0)
    one = first.stop()
    screen = one["sources"]["screen"]
    assert screen["duplicates"] >= screen["captured"] // 2
    assert one["tracks"]["screen"]["frames_encoded"] < screen["captured"]
    info = decode(one["segments"][0]["path"])
    assert info["video_end"] == pytest.approx(one["seconds"], abs=0.35)  # length kept

    second = Recorder(tmp_path, KEY, settings, screen=False, camera=camera_file,
                      microphone="none")
    second.start()
    time.sleep(0.5)
    two = second.stop()
    assert [s["seq"] for s in two["segments"]] == [1]
    assert decode(two["segments"][0]["path"])["audio_seconds"] == 0
    result = verify_manifest(read_lines(tmp_path / MANIFEST_NAME), KEY)
    assert result.ok and result.tracks["camera"].seqs == [0, 1]
    assert result.tracks["screen"].seqs == [0]
