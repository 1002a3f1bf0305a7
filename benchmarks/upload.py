"""Upload throughput on loopback and bytes re-sent after a kill.

Against one reference server started for this run (demo data, 127.0.0.1):

1. reference: the same file sent as ONE plain HTTP request (``requests``, body streamed
   from the file, no chunks, no checksums) into a tus upload the server created — same
   server, same storage write path; the server has no other endpoint that takes a large
   body (its ``/speedtest`` stops at 8 MB);
2. uploader: the same file through the product path (queue → worker → tuspy, chunk by
   chunk with sha256 ``Upload-Checksum``), timed from worker start to ``done``;
3. kill: ``zhishiyun upload --wait`` in its own process is SIGKILLed halfway through a
   TCP proxy throttled to 20 MiB/s and started again; the proxy counts every PATCH body
   byte, so re-sent = counted − file size, compared with the chunk the kill interrupted
   (chunks are sized to about a second of transfer each).

Rounds alternate reference and uploader; medians are reported. The same comparison runs
again through a proxy throttled to 100 Mbit/s (``link_100_mbit``): on loopback client and
server share the same cores and the uploader's extra work shows (a sha256 of every chunk on
each side — off the critical path on helper threads, but still CPU — and one round trip
per chunk); on a real link it hardly does.
Prints JSON with the ratio uploader / reference throughput (target ≥ 0.8) and the re-sent
bytes (target ≤ one chunk).

    python benchmarks/upload.py [--size-mb 100] [--rounds 3] [--smoke]

``--smoke`` runs every part once on small files (a few seconds), so the test command can
check that the benchmark still works; its numbers are not measurements.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import RunningServer  # noqa: E402
from tests.upload.conftest import enter_written_exam  # noqa: E402
from tests.upload.proxy import Proxy  # noqa: E402
from zhishiyun.paths import queue_db  # noqa: E402
from zhishiyun.upload.queue import UploadQueue  # noqa: E402
from zhishiyun.upload.worker import DEFAULT_CHUNK_SIZE, UploadWorker  # noqa: E402

MB = 1024 * 1024


def _meta(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def reference_put(entered, path: Path, sha: str, seq: int, endpoint: str = "") -> float:
    """Seconds for one plain HTTP request carrying the whole file."""
    size = path.stat().st_size
    endpoint = endpoint or entered.upload_url
    created = requests.post(endpoint, timeout=30, headers={
        "Tus-Resumable": "1.0.0", **entered.auth, "Upload-Length": str(size),
        "Upload-Metadata": _meta(session_id=entered.session_id, track="ref", seq=str(seq),
                                 sha256=sha)})
    created.raise_for_status()
    url = requests.compat.urljoin(endpoint, created.headers["Location"])
    started = time.perf_counter()
    with open(path, "rb") as body:
        resp = requests.patch(url, data=body, timeout=300, headers={
            "Tus-Resumable": "1.0.0", **entered.auth, "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream", "Content-Length": str(size)})
    elapsed = time.perf_counter() - started
    if resp.status_code != 204:
        raise RuntimeError(f"reference upload failed: {resp.status_code} {resp.text}")
    return elapsed


def uploader(entered, path: Path, sha: str, seq: int, work: Path, endpoint: str = "") -> float:
    """Seconds for the product's worker to deliver the file."""
    queue = UploadQueue(work / f"q{seq}.sqlite3")
    queue.enqueue_segment(entered.session_id, "up", seq, path, endpoint or entered.upload_url,
                          sha256=sha)
    worker = UploadWorker(queue, lambda: entered.token)
    started = time.perf_counter()
    worker.start()
    if not worker.wait_idle(600):
        raise RuntimeError("uploader did not finish")
    elapsed = time.perf_counter() - started
    worker.stop()
    item = queue.items()[0]
    if item.state != "done":
        raise RuntimeError(f"uploader failed: {item.reason}")
    queue.close()
    return elapsed


def resent_after_kill(server: RunningServer, entered, path: Path, sha: str,
                      work: Path) -> dict:
    """Kill ``zhishiyun upload --wait`` halfway, start it again, count PATCH body bytes."""
    size = path.stat().st_size
    proxy = Proxy(server.port, rate=20 * MB)
    data_dir = work / "client"
    db_path = queue_db(data_dir)
    queue = UploadQueue(db_path)
    queue.enqueue_segment(entered.session_id, "kill", 0, path, proxy.url + "/files/",
                          sha256=sha)
    queue.close()
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
           "ZHISHIYUN_HOME": str(work / "home")}

    def start() -> subprocess.Popen:
        child = subprocess.Popen(
            [sys.executable, str(REPO / "tests" / "upload" / "upload_child.py"), "",
             str(data_dir)], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, text=True, env=env, cwd=REPO)
        child.stdin.write(entered.token + "\n")
        child.stdin.close()
        child.stdin = None
        return child

    def done() -> int:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
            return db.execute("SELECT bytes_done FROM items").fetchone()[0]

    child = start()
    deadline = time.monotonic() + 300
    while done() < size // 2:
        if child.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the upload ended or stalled before it was half done")
        time.sleep(0.01)
    time.sleep(0.3)  # into the next chunk: the kill cuts a chunk in the middle
    child.send_signal(signal.SIGKILL)
    child.wait()
    confirmed = done()
    in_flight = proxy.patch_lengths[-1]  # the chunk the kill interrupted
    chunks_before = len(proxy.patch_lengths)
    if start().wait(600) != 0:
        raise RuntimeError("the restarted upload did not finish")
    proxy.close()
    return {"proxy_rate_bytes_per_s": 20 * MB, "confirmed_at_kill": confirmed,
            "chunk_in_flight_at_kill": in_flight,
            "chunks_before_kill": proxy.patch_lengths[:chunks_before],
            "chunks_after_restart": proxy.patch_lengths[chunks_before:],
            "patch_body_bytes": proxy.patch_body_bytes,
            "resent_bytes": proxy.patch_body_bytes - size}


LINK_RATE = 12_500_000  # 100 Mbit/s


def _link_comparison(server: RunningServer, entered, work: Path, rounds: int,
                     size_mb: int = 20) -> dict:
    """The same comparison through a proxy throttled to 100 Mbit/s (a fast real link)."""
    path = work / "link.mp4"
    path.write_bytes(os.urandom(size_mb * MB))
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    proxy = Proxy(server.port, rate=LINK_RATE)
    endpoint = proxy.url + "/files/"
    ref, up = [], []
    for seq in range(100, 100 + min(rounds, 3)):
        ref.append(reference_put(entered, path, sha, seq, endpoint))
        up.append(uploader(entered, path, sha, seq, work, endpoint))
    proxy.close()
    return {"file_bytes": path.stat().st_size, "rate_bytes_per_s": LINK_RATE,
            "reference_plain_http_s": [round(t, 3) for t in ref],
            "uploader_s": [round(t, 3) for t in up],
            "ratio_uploader_vs_reference": round(statistics.median(ref) /
                                                 statistics.median(up), 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--smoke", action="store_true",
                        help="a few seconds on small files: checks that it runs, measures nothing")
    args = parser.parse_args()
    link_mb = 20
    if args.smoke:
        # three first-size chunks, so the kill still lands between two confirmed chunks
        args.size_mb, args.rounds, link_mb = 3 * DEFAULT_CHUNK_SIZE // MB, 1, 2
    if (2 * args.rounds + 1) * args.size_mb * MB > 2 * 1024**3:
        parser.error("all uploads go to one exam session, limited to 2 GiB by default: "
                     "use fewer rounds or a smaller file")
    with tempfile.TemporaryDirectory(prefix="zsy-bench-upload-") as tmp:
        work = Path(tmp)
        (work / "server").mkdir()
        server = RunningServer(data_dir=work / "server",
                               db_url=f"sqlite:///{work / 'server' / 'server.db'}").start()
        try:
            entered = enter_written_exam(server.url)
            path = work / "segment.mp4"
            with open(path, "wb") as f:
                for _ in range(args.size_mb):
                    f.write(os.urandom(MB))
            sha = hashlib.sha256(path.read_bytes()).hexdigest()
            size = path.stat().st_size
            ref, up = [], []
            for seq in range(args.rounds):
                ref.append(reference_put(entered, path, sha, seq))
                up.append(uploader(entered, path, sha, seq, work))
            link = _link_comparison(server, entered, work, args.rounds, link_mb)
            kill = resent_after_kill(server, entered, path, sha, work)
        finally:
            server.stop()
    ref_mbps = size / MB / statistics.median(ref)
    up_mbps = size / MB / statistics.median(up)
    print(json.dumps({
        "smoke": args.smoke,
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "cpu_count": os.cpu_count(),
        "file_bytes": size,
        "first_chunk_bytes": DEFAULT_CHUNK_SIZE,
        "rounds": args.rounds,
        "reference_plain_http_s": [round(t, 3) for t in ref],
        "uploader_s": [round(t, 3) for t in up],
        "reference_MiB_per_s": round(ref_mbps, 1),
        "uploader_MiB_per_s": round(up_mbps, 1),
        "ratio_uploader_vs_reference": round(up_mbps / ref_mbps, 3),
        "ratio_target": 0.8,
        "ratio_ok": up_mbps / ref_mbps >= 0.8,
        "link_100_mbit": link,
        "kill": kill,
        "resent_ok": 0 <= kill["resent_bytes"] <= kill["chunk_in_flight_at_kill"],
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
