"""Track MP4s (one file per track, seekable by Range) and the evidence export."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import av

from tests.review.conftest import staff_login


def _frames(data: bytes) -> int:
    with av.open(io.BytesIO(data)) as container:
        count = 0
        try:
            for _ in container.decode(video=0):
                count += 1
        except av.error.InvalidDataError:
            pass
        return count


def test_export_zip_holds_everything_and_its_sha256_list_verifies(finished_exam):
    server, summary = finished_exam
    sid = summary["session_id"]
    reply = staff_login(server.url).get(f"{server.url}/review/sessions/{sid}/export.zip",
                                        timeout=60)
    assert reply.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(reply.content))
    listed = {}
    for line in archive.read("SHA256SUMS").decode().splitlines():
        digest, name = line.split("  ", 1)
        listed[name] = digest
    assert set(listed) == set(archive.namelist()) - {"SHA256SUMS"}
    for name, digest in listed.items():
        assert hashlib.sha256(archive.read(name)).hexdigest() == digest, name
    lines = [json.loads(x) for x in archive.read("manifest.jsonl").decode().splitlines()]
    for track, state in summary["tracks"].items():
        segments = sorted(n for n in listed if n.startswith(f"segments/{track}/"))
        assert len(segments) == len(state["uploaded"])
        named = {line["seq"]: line["sha256"] for line in lines if line["track"] == track}
        for name in segments:  # the client's own hashes, from its signed manifest
            assert listed[name] == named[int(name.rsplit("/", 1)[1][:6])]
    events = json.loads(archive.read("events.json"))
    assert "exam_finished" in {e["kind"] for e in events}
    answers = json.loads(archive.read("answers.json"))
    assert {a["question_id"] for a in answers} == {"1", "4"}
    report = json.loads(archive.read("report.json"))
    assert report["tracks"]["camera"]["chain_ok"] is True


def test_track_is_one_mp4_with_every_frame_and_answers_ranges(finished_exam):
    server, summary = finished_exam
    sid = summary["session_id"]
    http = staff_login(server.url)
    archive = zipfile.ZipFile(io.BytesIO(
        http.get(f"{server.url}/review/sessions/{sid}/export.zip", timeout=60).content))
    segments = sorted(n for n in archive.namelist() if n.startswith("segments/camera/"))
    expected = sum(_frames(archive.read(n)) for n in segments)
    page = http.get(f"{server.url}/review/sessions/{sid}", timeout=10).text
    urls = [part.split('"')[0] for part in page.split('"url":"')[1:]]
    url = next(u for u in urls if "/tracks/camera.mp4?v=" in u)  # a versioned track URL
    whole = http.get(server.url + url, timeout=60)
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
    assert whole.headers["accept-ranges"] == "bytes"
    part = http.get(server.url + url, headers={"Range": "bytes=1000-1999"}, timeout=60)
    assert part.status_code == 206 and part.content == whole.content[1000:2000]
    assert part.headers["content-range"] == f"bytes 1000-1999/{len(whole.content)}"
    assert _frames(whole.content) == expected  # remuxed, nothing dropped
    with av.open(io.BytesIO(whole.content)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        seconds = float(container.duration / 1_000_000)
    lines = [json.loads(x) for x in archive.read("manifest.jsonl").decode().splitlines()]
    recorded = sum(x["duration_ms"] for x in lines if x["track"] == "camera") / 1000
    assert abs(seconds - recorded) < 1.0, (seconds, recorded)
