"""Waiting and checking helpers for the exam tests (no timing assertions: deadlines only)."""

from __future__ import annotations

import time

import av

from zhishiyun.capture.manifest import read_records
from zhishiyun.capture.recovery import segment_path


def wait_for(predicate, timeout: float, what: str, step: float = 0.1):
    """Poll ``predicate`` until it is truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}")


def manifest_seqs(session_dir) -> dict[str, list[int]]:
    """``{track: [seq…]}`` from the session's manifest."""
    out: dict[str, list[int]] = {}
    for record in read_records(session_dir / "manifest.jsonl"):
        out.setdefault(record["track"], []).append(int(record["seq"]))
    return out


def assert_all_segments_on_server(client, session, gaps_allowed=()) -> dict[str, list[int]]:
    """Every manifest segment of both tracks reached the server, chain intact.

    ``gaps_allowed``: seqs that may be missing from a track (a segment cut by a kill before
    its first frame has nothing to upload).
    """
    local = manifest_seqs(session.session_dir)
    assert set(local) == {"screen", "camera"}, local
    remote = client.recordings(session.session_id).tracks
    for track, seqs in local.items():
        assert sorted(remote[track].received) == sorted(seqs), (track, remote[track], seqs)
        gaps = set(range(max(seqs) + 1)) - set(seqs)
        assert gaps <= set(gaps_allowed), (track, seqs)
        unreadable = {u["path"] for u in session.recorder.recovery.unreadable}
        for seq in gaps:  # a hole only where nothing (decodable) was ever recorded
            path = segment_path(session.session_dir, track, seq)
            assert not path.exists() or str(path) in unreadable, (track, seq)
        if not gaps:  # the server counts a hole in seq against the chain
            assert remote[track].chain_ok is True, (track, remote[track])
    return local


def decoded_frames(path) -> int:
    """Video frames PyAV decodes from a segment (a cut at the end is tolerated)."""
    frames = 0
    with av.open(str(path)) as container:
        try:
            for _frame in container.decode(video=0):
                frames += 1
        except av.error.InvalidDataError:
            pass
    return frames


def kill_exam_mid_way(server_url: str, exam_id: int, data_dir, devices: dict) -> str:
    """Enter ``exam_id`` in a child process, SIGKILL it once it records; the session id."""
    import os
    import signal
    import subprocess
    import sys

    from tests.exam.conftest import REPO_ROOT

    child = subprocess.Popen(
        [sys.executable, "-m", "tests.exam.exam_child", server_url, str(exam_id),
         str(data_dir), devices["camera"], devices["microphone"] or "default"],
        stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT, env={**os.environ})
    try:
        line = child.stdout.readline().split()
        assert line and line[0] == "READY", line
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    return line[1]
