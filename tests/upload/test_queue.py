"""The queue, backoff and rate cap on their own (no network)."""

from __future__ import annotations

import random
import threading
import time

import psutil

from zhishiyun.upload.policy import Backoff, ChunkSizer, TokenBucket
from zhishiyun.upload.queue import DONE, FAILED, PENDING, UPLOADING, UploadQueue
from zhishiyun.upload.worker import UploadWorker


def test_current_session_first_then_small_things_first(tmp_path):
    queue = UploadQueue(tmp_path / "q.sqlite3")
    seg = tmp_path / "0.mp4"
    seg.write_bytes(b"x" * 10)
    queue.enqueue_segment("old", "screen", 0, seg, "http://h/files/")
    queue.enqueue_segment("now", "screen", 0, seg, "http://h/files/")
    queue.enqueue_json("events", "now", "http://h/api/v1/sessions/now/events", {"events": []})
    queue.enqueue_json("answer", "old", "http://h/a", {"text": "A"}, method="PUT")
    order = []
    while (item := queue.next_pending("now", skip=[i.id for i in order])) is not None:
        order.append(item)
    assert [(i.session_id, i.kind) for i in order] == [
        ("now", "events"), ("now", "segment"), ("old", "answer"), ("old", "segment")]


def test_rows_survive_a_crash_and_interrupted_ones_resume(tmp_path):
    path = tmp_path / "q.sqlite3"
    queue = UploadQueue(path)
    seg = tmp_path / "0.mp4"
    seg.write_bytes(b"x" * 10)
    first = queue.enqueue_segment("s", "screen", 0, seg, "http://h/files/")
    second = queue.enqueue_segment("s", "screen", 1, seg, "http://h/files/")
    assert queue.enqueue_segment("s", "screen", 0, seg, "http://h/files/") is None  # once only
    queue.mark_uploading(first)
    queue.mark_progress(first, 4, 4)
    queue.set_url("item:1", "http://h/files/abc")
    queue.mark_uploading(second)
    queue.mark_failed(second, "server refused (413): too large")
    # no close(): as after a crash
    reopened = UploadQueue(path)
    assert reopened.get(first).state == UPLOADING  # until a worker takes over
    assert reopened.recover_interrupted() == 1
    one, two = reopened.get(first), reopened.get(second)
    assert (one.state, one.bytes_done, one.attempts) == (PENDING, 4, 1)
    assert reopened.get_url("item:1") == "http://h/files/abc"
    assert (two.state, two.reason) == (FAILED, "server refused (413): too large")
    assert reopened.requeue_failed() == 1 and reopened.get(second).state == PENDING
    reopened.mark_done(first)
    assert reopened.get(first).state == DONE
    assert reopened.session_totals("s")["items_done"] == 1
    assert UPLOADING not in {i.state for i in reopened.items()}


def test_backoff_grows_with_jitter_up_to_the_cap():
    backoff = Backoff(base=1.0, cap=8.0, rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(8)]
    ceilings = [1, 2, 4, 8, 8, 8, 8, 8]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert len(set(delays)) == len(delays)  # jittered
    backoff.reset()
    assert backoff.next_delay() <= 1.0


def test_rate_cap_wait_is_interrupted_by_cancel():
    bucket = TokenBucket(rate=1000.0)  # 1 kB/s: taking 1 MB would wait ~17 minutes
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    assert bucket.take(1_000_000, cancel) is False
    bucket.set_rate(None)  # lifted at runtime: no wait at all
    assert bucket.take(10**9, threading.Event()) is True


def test_idle_worker_does_not_spin(tmp_path):
    queue = UploadQueue(tmp_path / "q.sqlite3")
    worker = UploadWorker(queue, lambda: "token")
    worker.start()
    assert worker.wait_idle(5)
    me = psutil.Process()
    before = sum(me.cpu_times()[:2])
    time.sleep(1.0)
    used = sum(me.cpu_times()[:2]) - before
    assert worker.stop(5)
    assert used < 0.2, f"idle worker used {used:.2f} s of CPU in 1 s"


def test_not_logged_in_waits_without_spinning_and_stops_promptly(tmp_path):
    queue = UploadQueue(tmp_path / "q.sqlite3")
    seg = tmp_path / "0.mp4"
    seg.write_bytes(b"x" * 10)
    queue.enqueue_segment("s", "screen", 0, seg, "http://127.0.0.1:9/files/")
    waits = []
    worker = UploadWorker(queue, lambda: None)
    worker.worker_did_wait.append(lambda reason, s: waits.append(reason))
    worker.start()
    deadline = time.monotonic() + 5
    while not waits and time.monotonic() < deadline:
        time.sleep(0.05)
    assert waits == ["not_logged_in"]
    assert worker.stop(5)
    assert queue.get(1).state == PENDING


def test_one_worker_per_queue_across_processes(tmp_path):
    import subprocess
    import sys

    queue = UploadQueue(tmp_path / "q.sqlite3")
    worker = UploadWorker(queue, lambda: "token")
    worker.start()
    code = ("import sys; from zhishiyun.upload.queue import UploadQueue;"
            "from zhishiyun.upload.worker import UploadWorker, UploadsBusy\n"
            "try:\n UploadWorker(UploadQueue(sys.argv[1]), lambda: 't').start()\n"
            "except UploadsBusy as e:\n print(e.code); sys.exit(3)\n")
    other = subprocess.run([sys.executable, "-c", code, str(tmp_path / "q.sqlite3")],
                           capture_output=True, text=True, timeout=60)
    assert other.returncode == 3 and other.stdout.strip() == "uploads_busy", other.stderr
    assert worker.stop(5)
    again = UploadWorker(UploadQueue(tmp_path / "q.sqlite3"), lambda: "token")
    again.start()  # the lock went with the first worker
    assert again.stop(5)


def test_chunks_follow_the_link_and_the_rate_cap():
    cap = {"value": None}
    sizer = ChunkSizer(first=8 * 2**20, low=256 * 2**10, high=32 * 2**20, target_s=1.0,
                       rate_cap=lambda: cap["value"])
    assert sizer.next_size() == 8 * 2**20
    sizer.observe(8 * 2**20, 0.05)  # a fast link: grow (at most 4x a step) up to the top
    assert sizer.next_size() == 32 * 2**20
    sizer.observe(32 * 2**20, 64.0)  # a slow link: 0.5 MiB/s → about a second's worth
    assert sizer.next_size() == 2**19
    sizer.observe(2**19, 100.0)
    assert sizer.next_size() == 256 * 2**10  # never below the floor
    sizer.observe(2**20, 0.01)
    cap["value"] = 300_000.0  # an interview is live: chunks no bigger than a second of cap
    assert sizer.next_size() == 300_000
    fixed = ChunkSizer(first=2**20, fixed=True)
    fixed.observe(2**20, 0.001)
    assert fixed.next_size() == 2**20
