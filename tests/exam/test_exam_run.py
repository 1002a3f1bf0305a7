"""``zhishiyun exam run`` as QA runs it: real processes, the demo server, real recordings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from tests.exam.conftest import REPO_ROOT, ZHANG, login, server_rows, shape
from tests.exam.helpers import wait_for

ANSWERS = {"1": "片段录制是崩溃安全的", "4": "加密、最小化、及时删除"}


def exam_run(server_url, tmp_path, devices, seconds, *, env=None, extra=()):
    """Start ``zhishiyun exam run`` with the password on stdin; the Popen."""
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps(ANSWERS, ensure_ascii=False), encoding="utf-8")
    command = [sys.executable, "-m", "zhishiyun", "exam", "run", "--server", server_url,
               "--id-number", ZHANG[0], "--password-stdin", "--exam", "next",
               "--accept-rules", "--seconds", str(seconds), "--answers", str(answers),
               "--camera", devices["camera"], *extra]
    if devices["microphone"] == "none":
        command += ["--mic", "none"]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT,
                               env={**os.environ, **(env or {})})
    process.stdin.write(ZHANG[1] + "\n")
    process.stdin.flush()
    return process


def finished(process, timeout):
    """(exit code, the JSON summary, stderr) once the process ends."""
    out, err = process.communicate(timeout=timeout)
    lines = out.strip().splitlines()
    assert len(lines) == 1, (out, err)  # one JSON summary, nothing else on stdout
    return process.returncode, json.loads(lines[0]), err


def assert_all_on_server(server, summary, all_events_sent=True):
    """Every recorded seq of every track, every answer and every event is on the server."""
    client = login(server.url)
    sid = summary["session_id"]
    tracks = client.recordings(sid).tracks
    assert set(summary["tracks"]) == {"screen", "camera"}
    for track, seqs in summary["tracks"].items():
        recorded = seqs["recorded"]
        assert recorded == list(range(len(recorded))) and len(recorded) >= 5, (track, seqs)
        assert sorted(tracks[track].received) == recorded, (track, tracks[track])
        assert tracks[track].chain_ok and not tracks[track].missing
    stored = {a.question_id: a.content for a in client.answers(sid)}
    assert stored == ANSWERS
    kinds = [e.kind for e in server_rows(server, "Event", sid)
             if not e.client_event_id.startswith("srv-")]  # the server's own: identity checks
    if all_events_sent:  # else some were sent later, by `zhishiyun upload`
        assert len(kinds) == summary["events_sent"]
    else:
        assert len(kinds) > summary["events_sent"]
    assert {"session_entered", "exam_finished"} <= set(kinds)


def test_a_20_second_written_exam_reaches_the_server_whole(server_factory, devices,
                                                           tmp_path):
    server = server_factory()
    shape(server, "written", start_in=0, duration_s=600)
    process = exam_run(server.url, tmp_path, devices, 20)
    code, summary, err = finished(process, 150)
    assert code == 0, err
    assert summary["all_uploaded"] is True
    assert summary["answers_confirmed"] == sorted(ANSWERS)
    for seqs in summary["tracks"].values():
        assert seqs["uploaded"] == seqs["recorded"]
    assert_all_on_server(server, summary)


def test_server_gone_halfway_exits_1_and_zhishiyun_upload_finishes_later(
        server_factory, devices, tmp_path, secret_service, isolated_home):
    server = server_factory()
    shape(server, "written", start_in=0, duration_s=600)
    process = exam_run(server.url, tmp_path, devices, 20, env=secret_service,
                       extra=("--upload-timeout", "5"))
    sessions = isolated_home / "data" / "sessions"
    wait_for(lambda: sessions.is_dir() and any(sessions.glob("*/manifest.jsonl")), 30,
             "the first closed segment")
    time.sleep(8)  # past the answers, which a candidate types halfway through
    server.stop()
    code, summary, err = finished(process, 90)
    assert code == 1, err
    assert summary["all_uploaded"] is False and summary["pending"]
    assert "zhishiyun upload" in err  # what to do next

    server.start()
    upload = subprocess.run([sys.executable, "-m", "zhishiyun", "upload", "--wait"],
                            capture_output=True, text=True, timeout=120, cwd=REPO_ROOT,
                            env={**os.environ, **secret_service})
    assert upload.returncode == 0, upload.stdout + upload.stderr
    assert_all_on_server(server, summary, all_events_sent=False)
    client = login(server.url)
    assert client.exam(next(e.id for e in client.exams()
                            if e.session_id == summary["session_id"])).state == "finished"


def test_bad_usage_exits_2_and_unaccepted_rules_exit_1_with_one_line(server_factory, tmp_path):
    server = server_factory()
    exam_id = shape(server, "written", start_in=0, duration_s=600)
    base = [sys.executable, "-m", "zhishiyun", "--language", "en", "exam", "run",
            "--server", server.url, "--id-number", ZHANG[0], "--password-stdin",
            "--seconds", "5", "--no-screen", "--mic", "none"]

    def run(*extra):
        done = subprocess.run([*base, *extra], input=ZHANG[1] + "\n", capture_output=True,
                              text=True, timeout=60, cwd=REPO_ROOT)
        assert done.stdout == "", done.stdout  # no summary for a run that never started
        errors = [line for line in done.stderr.splitlines() if "error" in line.lower()]
        assert len(errors) == 1, done.stderr  # one line says what is wrong
        return done.returncode, errors[0]

    bad = tmp_path / "answers.json"
    bad.write_text("[1, 2]", encoding="utf-8")
    code, err = run("--exam", "next", "--answers", str(bad))
    assert code == 2 and "answers file" in err
    code, err = run("--exam", "first")
    assert code == 2 and "first" in err
    code, err = run("--exam", "next", "--camera", str(tmp_path / "none.mp4"))
    assert code == 2 and "none.mp4" in err
    code, err = run("--exam", str(exam_id), "--camera", "0")
    assert code == 1 and "--accept-rules" in err
    assert login(server.url).exam(exam_id).session_id is None  # never entered
