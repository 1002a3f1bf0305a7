import json
from datetime import datetime, timedelta, timezone

import pytest

from zhishiyun.capture.manifest import (
    ManifestWriter,
    canonical_bytes,
    compute_mac,
    format_time,
    line_hash,
    read_lines,
    verify_manifest,
)

KEY = "session-key-123"
CST = timezone(timedelta(hours=8))


def _write(path, tracks=("screen", "camera"), count=4):
    with ManifestWriter(path, KEY) as writer:
        for seq in range(count):
            for track in tracks:
                start = datetime(2026, 1, 1, 9, 0, seq * 3, tzinfo=CST)
                writer.append({"seq": seq, "track": track, "start": format_time(start),
                               "duration_ms": 3000, "bytes": 100 + seq,
                               "sha256": f"{seq:064x}", "encoder": "libx264"})
    return read_lines(path)


def test_clean_manifest_verifies(tmp_path):
    lines = _write(tmp_path / "manifest.jsonl")
    result = verify_manifest(lines, KEY)
    assert result.ok
    assert sorted(result.tracks) == ["camera", "screen"]
    assert result.tracks["screen"].seqs == [0, 1, 2, 3]
    first = json.loads(lines[0])
    assert first["prev"] == ""
    assert first["start"] == "2026-01-01T09:00:00.000+08:00"
    assert canonical_bytes(first) == lines[0]
    assert first["mac"] == compute_mac(first, KEY)
    second_screen = json.loads(lines[2])
    assert second_screen["prev"] == line_hash(lines[0])


def test_removed_segment_line_fails(tmp_path):
    lines = _write(tmp_path / "manifest.jsonl")
    del lines[2]  # screen seq 1
    result = verify_manifest(lines, KEY)
    assert not result.ok
    screen = result.tracks["screen"]
    assert screen.missing == [1]
    assert screen.bad_prev == [2]
    assert result.tracks["camera"].ok


def test_removed_last_segment_needs_expected_seq(tmp_path):
    lines = _write(tmp_path / "manifest.jsonl")
    del lines[-1]  # camera seq 3
    assert verify_manifest(lines, KEY).ok  # a truncated tail alone is invisible...
    result = verify_manifest(lines, KEY, expected_last_seq={"camera": 3, "screen": 3})
    assert result.tracks["camera"].missing == [3]  # ...unless the receiver knows the count
    assert not result.ok


def test_edited_line_fails_mac_and_next_prev(tmp_path):
    lines = _write(tmp_path / "manifest.jsonl")
    record = json.loads(lines[2])
    record["sha256"] = "f" * 64
    lines[2] = canonical_bytes(record)
    result = verify_manifest(lines, KEY)
    assert result.tracks["screen"].bad_mac == [1]
    assert result.tracks["screen"].bad_prev == [2]
    assert not result.ok


def test_reordered_lines_fail(tmp_path):
    lines = _write(tmp_path / "manifest.jsonl")
    lines[2], lines[4] = lines[4], lines[2]  # screen seq 1 and 2 swapped
    result = verify_manifest(lines, KEY)
    screen = result.tracks["screen"]
    assert screen.out_of_order == [1]
    assert screen.bad_prev
    assert screen.bad_mac == []


def test_wrong_key_fails_every_mac(tmp_path):
    lines = _write(tmp_path / "manifest.jsonl", tracks=("screen",), count=2)
    result = verify_manifest(lines, "other key")
    assert result.tracks["screen"].bad_mac == [0, 1]


def test_reopened_writer_continues_chain_after_torn_line(tmp_path):
    path = tmp_path / "manifest.jsonl"
    _write(path, tracks=("screen",), count=2)
    with open(path, "ab") as handle:
        handle.write(b'{"seq":2,"track":"scr')  # power cut mid-line
    with ManifestWriter(path, KEY) as writer:
        assert writer.has("screen", 1) and not writer.has("screen", 2)
        writer.append({"seq": 2, "track": "screen", "start": "2026-01-01T09:00:06.000+08:00",
                       "duration_ms": 1200, "bytes": 5, "sha256": "0" * 64, "recovered": True})
    result = verify_manifest(read_lines(path), KEY)
    assert result.malformed_lines == [3]
    assert result.tracks["screen"].ok
    assert result.tracks["screen"].seqs == [0, 1, 2]


def test_bad_records_are_refused(tmp_path):
    with ManifestWriter(tmp_path / "m.jsonl", KEY) as writer:
        with pytest.raises(ValueError):
            writer.append({"seq": 0, "track": "screen"})
        with pytest.raises(ValueError):
            writer.append({"seq": -1, "track": "screen", "start": "x", "duration_ms": 1,
                           "bytes": 1, "sha256": ""})
    with pytest.raises(ValueError):
        format_time(datetime(2026, 1, 1))
