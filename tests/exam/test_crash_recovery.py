"""A headless exam killed mid-segment: only ``zhishiyun upload --wait`` afterwards, no login
and no re-entry, and every seq of every track reaches the server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from tests.exam.conftest import REPO_ROOT, ZHANG, login, server_db, shape
from tests.exam.helpers import manifest_seqs, wait_for
from zhishiyun.exam.recover import open_segments


def test_kill_mid_segment_then_only_zhishiyun_upload_delivers_every_seq(
        server_factory, devices, secret_service, isolated_home):
    server = server_factory()
    shape(server, "written", start_in=0, duration_s=600)
    env = {**os.environ, **secret_service}
    command = [sys.executable, "-m", "zhishiyun", "exam", "run", "--server", server.url,
               "--id-number", ZHANG[0], "--password-stdin", "--exam", "next",
               "--accept-rules", "--seconds", "120", "--camera", devices["camera"]]
    if devices["microphone"] == "none":
        command += ["--mic", "none"]
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, text=True, cwd=REPO_ROOT, env=env)
    child.stdin.write(ZHANG[1] + "\n")
    child.stdin.flush()
    sessions = isolated_home / "data" / "sessions"
    try:
        def two_closed_per_track():
            for directory in sessions.glob("*"):
                seqs = manifest_seqs(directory)
                if len(seqs) == 2 and all(len(s) >= 2 for s in seqs.values()):
                    return directory
            return None

        session_dir = wait_for(two_closed_per_track, 60, "two closed segments per track")
        time.sleep(1.0)  # into the next 2 s segment
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    left_open = open_segments(session_dir)
    assert left_open, "the kill left a segment open"

    upload = subprocess.run([sys.executable, "-m", "zhishiyun", "upload", "--wait"],
                            capture_output=True, text=True, timeout=180, cwd=REPO_ROOT,
                            env=env)
    assert upload.returncode == 0, upload.stdout + upload.stderr
    assert not open_segments(session_dir)
    local = manifest_seqs(session_dir)
    remote = login(server.url).recordings(session_dir.name).tracks
    for track, seqs in local.items():
        assert sorted(seqs) == list(range(len(seqs))), (track, seqs)  # no gap
        assert sorted(remote[track].received) == sorted(seqs), (track, remote[track])
        assert not remote[track].missing and remote[track].chain_ok, remote[track]
    from sqlalchemy import select

    from zhishiyun_server.recordings import ManifestLine

    with server_db(server)() as db:
        lines = {(r.track, r.seq): json.loads(r.line) for r in db.scalars(
            select(ManifestLine).where(ManifestLine.session_id == session_dir.name))}
    for track, seq in left_open:
        assert lines[(track, seq)].get("recovered") is True, lines[(track, seq)]
