"""A track records from what its context gives it, with no recorder behind it."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from tests.capture.conftest import decode
from zhishiyun.capture.context import Timeline, TrackContext
from zhishiyun.capture.encoder import choose_encoder
from zhishiyun.capture.manifest import ManifestWriter, format_time, read_records, verify_manifest
from zhishiyun.capture.sources import clock
from zhishiyun.capture.tracks import Track
from zhishiyun.config import RecordingSettings


def test_a_track_records_and_reports_through_its_context_alone(tmp_path):
    settings = RecordingSettings(segment_seconds=1)
    manifest = ManifestWriter(tmp_path / "manifest.jsonl", "k")
    timeline = Timeline()
    closed, events, stops = [], [], []
    context = TrackContext(
        session_dir=tmp_path, settings=settings, encoder=choose_encoder(settings),
        first_seq=5, timeline=timeline, manifest=manifest,
        now_server=lambda: datetime.now().astimezone(),
        emit=lambda kind, source, detail: events.append(kind),
        request_stop=stops.append, segment_closed=closed.append)
    track = Track("camera", None, (320, 240), 10.0, "bgr24")  # no camera: black picture
    timeline.t0 = clock()
    track.start(context)
    time.sleep(1.6)
    timeline.stop_t = clock()
    timeline.finish()
    track.join(10)
    manifest.close()

    assert [c.seq for c in closed] == [5, 6] and not events and not stops
    records = read_records(tmp_path / "manifest.jsonl")
    assert [r["seq"] for r in records] == [5, 6]
    chain = verify_manifest((tmp_path / "manifest.jsonl").read_bytes().splitlines(), "k")
    assert not (chain.tracks["camera"].bad_prev or chain.tracks["camera"].bad_mac)
    assert closed[0].duration_ms == 1000 and decode(closed[0].path)["video_frames"] >= 1
    assert records[0]["start"] < format_time(datetime.now().astimezone())


def test_both_tracks_give_a_segment_the_same_start_however_their_clock_reads_fall(tmp_path):
    # Each read of this server clock comes 50 ms "later", as a thread preempted between
    # its monotonic and its server reads would see it; the tracks must still agree.
    settings = RecordingSettings(segment_seconds=1)
    manifest = ManifestWriter(tmp_path / "manifest.jsonl", "k")
    timeline = Timeline()
    reads = []

    def jumpy_server_clock() -> datetime:
        reads.append(None)
        return datetime.now().astimezone() + timedelta(seconds=0.05 * len(reads))

    context = TrackContext(
        session_dir=tmp_path, settings=settings, encoder=choose_encoder(settings),
        first_seq=0, timeline=timeline, manifest=manifest, now_server=jumpy_server_clock,
        emit=lambda kind, source, detail: None, request_stop=lambda reason: None,
        segment_closed=lambda closed: None)
    tracks = [Track(name, None, (160, 120), 5.0, "bgr24") for name in ("screen", "camera")]
    timeline.t0 = clock()
    for track in tracks:
        track.start(context)
    time.sleep(2.5)
    timeline.stop_t = clock()
    timeline.finish()
    for track in tracks:
        track.join(10)
    manifest.close()

    starts = {}
    for record in read_records(tmp_path / "manifest.jsonl"):
        starts.setdefault(record["seq"], {})[record["track"]] = record["start"]
    assert sorted(starts) == [0, 1, 2]
    assert all(by_track["screen"] == by_track["camera"] for by_track in starts.values()), starts
