"""What each request of a candidate's segment costs the server, beside the tus project's server.

One simulated candidate, one request at a time, so that the server's CPU between two
replies belongs to exactly one request: the tus creation and PATCH of a 512 KiB segment
(sha256 ``Upload-Checksum``) whose creation carries its manifest line and an event, an
answer every fifth segment and the clock poll — what each candidate of ``server_load.py``
sends, and what the client sends while its segments do not back up — against our server
on SQLite and on PostgreSQL (``ZHISHIYUN_TEST_PG_URL``), and the tus part against
``@tus/server`` + ``@tus/file-store`` in the same run.

The server's CPU is read from ``/proc/<pid>/task/*/schedstat`` (nanoseconds of every thread,
its worker processes included); where that is missing, from psutil (10 ms ticks, so only
long runs mean anything). Without load there is no batching, no queueing and no lock
waiting: this is the floor of each request, the figure to cut; ``server_load.py`` says what
the whole server carries.

Prints one JSON object: per configuration ``ms_per_request`` (kind → CPU ms, median and
mean), ``ms_per_segment`` (everything one segment brings, the answer at a fifth) and
``tus_ms_per_segment``; for ours ``vs_tus_server`` (our tus part ÷ theirs, our whole segment
÷ their tus part).

    python benchmarks/server_requests.py [--segments 300] [--only NAME,...] [--post-lines]
                                         [--post-events]
        --post-lines: each line in a POST /manifest of its own (the client's way before
        lines travelled with the creation, and still when segments back up)
        --post-events: each event in a POST /events of its own (the way before events
        travelled with the creation, and still for events with no segment to ride on)
    python benchmarks/server_requests.py --smoke     # a few seconds; not a measurement
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil
import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.server_load import configurations as load_configurations  # noqa: E402
from benchmarks.server_load_client import canonical  # noqa: E402
from benchmarks.server_load_seed import PASSWORD  # noqa: E402

TUS = {"Tus-Resumable": "1.0.0"}


class ServerClock:
    """CPU nanoseconds the server (its process and children) has used so far."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)

    def __call__(self) -> int:
        total = 0
        for proc in [self.root, *self.root.children(recursive=True)]:
            try:
                tasks = os.listdir(f"/proc/{proc.pid}/task")
            except OSError:
                times = proc.cpu_times()
                total += int((times.user + times.system) * 1e9)
                continue
            for task in tasks:
                try:
                    with open(f"/proc/{proc.pid}/task/{task}/schedstat") as handle:
                        total += int(handle.read().split()[0])
                except OSError:
                    pass  # a thread that ended between the listing and the read
        return total


class Candidate:
    """One candidate's requests, each timed by the server's CPU clock."""

    def __init__(self, server: dict, clock: ServerClock, post_lines: bool = False,
                 post_events: bool = False) -> None:
        self.base, self.kind, self.clock = server["url"], server["kind"], clock
        self.post_lines, self.post_events = post_lines, post_events
        self.http = requests.Session()
        self.costs: dict[str, list[float]] = {}
        self.session_id, self.key, self.prev = "bench", b"", ""
        if self.kind == "ours":
            reply = self.http.post(self.base + "/api/v1/auth/password", json={
                "id_number": server["people"][0], "password": PASSWORD}).json()
            self.http.headers["Authorization"] = f"Bearer {reply['token']}"
            exam = server["exam_id"]
            self.http.post(f"{self.base}/api/v1/exams/{exam}/accept", json={})
            reply = self.http.post(f"{self.base}/api/v1/exams/{exam}/sessions", json={}).json()
            self.session_id, self.key = reply["session_id"], reply["session_key"].encode()

    def _timed(self, kind: str, method: str, path: str, expect: int, **kwargs):
        time.sleep(0.002)  # the server's own background work of the last reply ends first
        before = self.clock()
        reply = self.http.request(method, path if "://" in path else self.base + path, **kwargs)
        cost = (self.clock() - before) / 1e6
        if reply.status_code != expect:
            raise RuntimeError(f"{kind}: {reply.status_code} {reply.text[:300]}")
        self.costs.setdefault(kind, []).append(cost)
        return reply

    def segment(self, seq: int, data: bytes) -> None:
        """One segment: tus creation and PATCH, then (ours) what the client sends with it."""
        digest = hashlib.sha256(data)
        meta = {"session_id": self.session_id, "track": "screen", "seq": str(seq),
                "sha256": digest.hexdigest(), "filename": f"{seq:06d}.mp4"}
        line = self._line(seq, data, digest.hexdigest()) if self.kind == "ours" else None
        carried = line is not None and not self.post_lines
        if carried:
            meta["manifest"] = line
        event = {"events": [{"id": f"e{seq}", "kind": "focus_lost",
                             "at": "2026-12-01T09:00:00.000+08:00", "details": {}}]}
        events_carried = self.kind == "ours" and not self.post_events
        if events_carried:  # as the client joins them: the session named, compact JSON
            meta["events"] = json.dumps({"session_id": self.session_id, **event},
                                        separators=(",", ":"))
        created = self._timed("tus_create", "POST", "/files/", 201, headers={
            **TUS, "Upload-Length": str(len(data)), "Upload-Metadata": ",".join(
                f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in meta.items())})
        if carried and created.headers.get("Zhishiyun-Manifest") != "recorded":
            raise RuntimeError(f"line not recorded: {created.headers.get('Zhishiyun-Manifest')}")
        if events_carried and created.headers.get("Zhishiyun-Events") != "recorded":
            raise RuntimeError(f"event not recorded: {created.headers.get('Zhishiyun-Events')}")
        upload = self.base + "/files/" + created.headers["Location"].rsplit("/", 1)[1]
        self._timed("tus_patch", "PATCH", upload, 204, data=data, headers={
            **TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream",
            "Upload-Checksum": "sha256 " + base64.b64encode(digest.digest()).decode()})
        if self.kind != "ours":
            return
        sid = self.session_id
        if not carried:
            self._timed("manifest_line", "POST", f"/api/v1/sessions/{sid}/manifest", 200,
                        json={"lines": [line]})
        if not events_carried:
            self._timed("event", "POST", f"/api/v1/sessions/{sid}/events", 200, json=event)
        if seq % 5 == 0:
            self._timed("answer", "PUT", f"/api/v1/sessions/{sid}/answers/q1", 200,
                        json={"version": seq + 1, "content": "answer " * 40})
        self._timed("clock_poll", "GET", "/api/v1/time", 200)

    def _line(self, seq: int, data: bytes, sha_hex: str) -> str:
        """The segment's signed manifest line (chained to the one before)."""
        record = {"seq": seq, "track": "screen", "start": "2026-12-01T09:00:00.000+08:00",
                  "duration_ms": 2000, "bytes": len(data), "sha256": sha_hex,
                  "prev": self.prev, "encoder": "libx264"}
        record["mac"] = hmac.new(self.key, canonical(record), hashlib.sha256).hexdigest()
        line = canonical(record).decode()
        self.prev = hashlib.sha256(line.encode()).hexdigest()
        return line


def run_config(server: dict, segments: int, size: int, post_lines: bool = False,
               post_events: bool = False) -> dict:
    """Send ``segments`` segments one request at a time; CPU ms per request kind."""
    candidate = Candidate(server, ServerClock(server["process"].pid), post_lines, post_events)
    payload = os.urandom(size)
    warm = max(2, segments // 10)  # the first requests fill caches and pools
    for seq in range(warm + segments):
        if seq == warm:
            candidate.costs.clear()
        candidate.segment(seq, payload[:-8] + seq.to_bytes(8, "big"))
    per_kind = {kind: {"median": round(statistics.median(values), 3),
                       "mean": round(statistics.fmean(values), 3), "count": len(values)}
                for kind, values in candidate.costs.items()}
    per_segment = sum(sum(values) for values in candidate.costs.values()) / segments
    tus = sum(sum(candidate.costs.get(kind, [])) for kind in ("tus_create", "tus_patch"))
    return {"ms_per_request": per_kind, "ms_per_segment": round(per_segment, 3),
            "tus_ms_per_segment": round(tus / segments, 3), "segments": segments}


def configurations(work: Path, only: set[str] | None):
    """``server_load.py``'s configurations but the two-worker one (one client, one process)."""
    for name, start in load_configurations(work, only):
        if name != "ours_pg_disk_2workers":
            yield name, start


def main(argv: list[str] | None = None) -> int:
    """Run every configuration; print the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=300)
    parser.add_argument("--segment-kib", type=int, default=512)
    parser.add_argument("--only", default="", help="comma-separated configuration names")
    parser.add_argument("--smoke", action="store_true", help="a few seconds")
    parser.add_argument("--post-lines", action="store_true",
                        help="post each manifest line on its own (the way before carried lines)")
    parser.add_argument("--post-events", action="store_true",
                        help="post each event on its own (the way before carried events)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.segments, args.segment_kib = 5, 64
    only = set(filter(None, args.only.split(","))) or None
    report = {"load_average_before": [round(x, 2) for x in os.getloadavg()],
              "smoke": args.smoke, "segment_kib": args.segment_kib,
              "lines": "posted" if args.post_lines else "carried",
              "events": "posted" if args.post_events else "carried", "configs": {}}
    with tempfile.TemporaryDirectory(prefix="zsy-req-") as tmp:
        for name, start in configurations(Path(tmp), only):
            print(f"{name}:", file=sys.stderr, flush=True)
            with start() as server:
                result = report["configs"][name] = run_config(
                    server, args.segments, args.segment_kib * 1024, args.post_lines,
                    args.post_events)
            print(f"  {result['ms_per_segment']} ms per segment "
                  f"({result['tus_ms_per_segment']} ms tus)", file=sys.stderr, flush=True)
    theirs = report["configs"].get("tus_server")
    for name, result in report["configs"].items():
        if name != "tus_server" and theirs and theirs["tus_ms_per_segment"]:
            result["vs_tus_server"] = {
                "tus": round(result["tus_ms_per_segment"] / theirs["tus_ms_per_segment"], 2),
                "segment": round(result["ms_per_segment"] / theirs["tus_ms_per_segment"], 2)}
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
