"""Faults mid-exam against the real server: the server stops for a while; the app is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.exam.conftest import REPO_ROOT, login, server_rows, shape
from tests.exam.helpers import assert_all_segments_on_server, manifest_seqs, wait_for
from zhishiyun.exam.runtime import ExamRuntime
from zhishiyun.exam.session import State

OUTAGE_SECONDS = 30  # the outage the issue asks to survive


def test_server_outage_recording_and_countdown_go_on_then_everything_catches_up(
        server_factory, isolated_home, devices):
    server = server_factory()
    exam_id = shape(server, "written", start_in=0, duration_s=600)
    client = login(server.url)
    client.accept(exam_id)
    runtime = ExamRuntime(client, isolated_home / "data")
    runtime.start()
    try:
        session = runtime.session({"id": exam_id, "kind": "written"}, **devices)
        network = []
        session.session_did_change.append(
            lambda kind, value: network.append(value) if kind == "network" else None)
        session.enter()
        wait_for(lambda: session.segment_items(), 15, "a first segment")

        server.stop()
        left_before = session.seconds_left()
        segments_before = len(manifest_seqs(session.session_dir).get("screen", []))
        wait_for(lambda: network == [False], 10, "the network-lost notice")
        assert session.save_answer("2", "离线时写的答案") == 1  # saved locally at once
        session.record_event("focus_lost", {"seconds": 3})
        time.sleep(OUTAGE_SECONDS)
        assert session.seconds_left() < left_before - OUTAGE_SECONDS + 1  # countdown went on
        assert len(manifest_seqs(session.session_dir)["screen"]) >= segments_before + 4
        assert session.recorder.running
        assert session.upload_totals()["items_done"] < session.upload_totals()["items_total"]

        session.finish("candidate_ended")  # ended while offline: the end is queued too
        assert not session.finish_posted and session.state == State.FINISHING

        server.start()
        wait_for(lambda: network == [False, True], 15, "the network-back notice")
        wait_for(lambda: session.state == State.DONE, 60, "every upload after the outage")
        assert client.finish(session.session_id, "time_up").reason == "candidate_ended"
        stored = {a.question_id: a.content for a in client.answers(session.session_id)}
        assert stored == {"2": "离线时写的答案"}
        kinds = [e.kind for e in server_rows(server, "Event", session.session_id)]
        assert {"network_lost", "network_back", "focus_lost", "exam_finished"} <= set(kinds)
        assert_all_segments_on_server(client, session)
    finally:
        runtime.close()


def test_killed_mid_exam_resumes_the_same_session_and_every_segment_arrives(
        server_factory, isolated_home, devices):
    server = server_factory()
    exam_id = shape(server, "written", start_in=0, duration_s=600)
    login(server.url).accept(exam_id)
    data_dir = isolated_home / "data"
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.exam.exam_child", server.url, str(exam_id),
         str(data_dir), devices["camera"], devices["microphone"] or "default"],
        stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT, env={**os.environ})
    try:
        line = child.stdout.readline().split()
        assert line and line[0] == "READY", line
        session_id = line[1]
        time.sleep(1.0)  # mid-segment
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()

    client = login(server.url)
    # meanwhile a newer version of answer 1 reached the server (e.g. from another computer)
    client.put_answer(session_id, "1", 5, "另一台电脑上的答案")
    runtime = ExamRuntime(client, data_dir)
    runtime.start()
    try:
        record = runtime.active_session()
        assert record is not None and record.session_id == session_id
        before = manifest_seqs(data_dir / "sessions" / session_id)
        session = runtime.resume(record, camera=devices["camera"],
                                 microphone=devices["microphone"])
        session.enter()
        assert session.session_id == session_id and session.resumed
        assert session.answers() == {"1": "另一台电脑上的答案"}  # the newer one wins
        assert session.save_answer("1", "恢复后改过的答案") == 6  # never a stale version
        # the segment open at the kill was recovered; new ones continue after it
        assert session.recorder.first_seq > max(before["screen"])
        wait_for(lambda: len(manifest_seqs(session.session_dir)["screen"])
                 > session.recorder.first_seq, 15, "a new segment after the restart")
        session.finish("candidate_ended")
        wait_for(lambda: session.state == State.DONE, 60, "every upload after the restart")
        # Seqs between a track's last segment at the kill and the restart's first seq hold
        # nothing decodable on that track (the tracks close their segments at slightly
        # different moments; a segment cut before its first frame is kept but not sent).
        kill_seq = min(max(seqs) + 1 for seqs in before.values())
        local = assert_all_segments_on_server(
            client, session, gaps_allowed=range(kill_seq, session.recorder.first_seq))
        assert len(local["camera"]) > len(before["camera"]) + 1
        assert [(a.question_id, a.version, a.content) for a in client.answers(session_id)] \
            == [("1", 6, "恢复后改过的答案")]
        assert session.upload_totals()["items_failed"] == 0
        kinds = [e.kind for e in server_rows(server, "Event", session_id)]
        assert {"session_entered", "focus_lost", "session_resumed"} <= set(kinds)
    finally:
        runtime.close()
