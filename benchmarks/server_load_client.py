"""Simulated candidates for ``server_load.py``: asyncio + aiohttp, in its own process.

Reads one JSON job from argv and prints one JSON line per step to stdout (``{"event":
"step_start", ...}`` when a step's measuring window opens, ``{"event": "step", ...}`` with
its numbers when it closes), so the parent can sample the server's CPU exactly over the
window; then it waits for ``next`` (or ``stop``) on stdin. The parent runs several of these
(``job["shard"]`` of ``job["shards"]``, each with its share of the candidates) in lockstep,
so that no single event loop of the load generator is what limits the measurement.

Each candidate of ``kind == "ours"``: logs in, accepts, enters, then every
``interval_s`` uploads a segment over tus (creation + one PATCH with a sha256
``Upload-Checksum``) whose creation carries its signed manifest line and an event
(metadata ``manifest`` and ``events``, as the client sends them when its segments do not
back up; ``job["post_events"]``: the event in a POST of its own, the way before), saves an
answer every fifth segment and polls the clock. ``kind == "tus"`` (the tus project's
server) does only the tus part.

aiohttp (already installed: tuspy depends on it) rather than httpx: the generators share the
2 cores with the server under test, and aiohttp spends about a third of httpx's CPU per
request, so more of the machine measures the server.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass, field

import aiohttp

TUS = {"Tus-Resumable": "1.0.0"}


def canonical(record: dict) -> bytes:
    """The manifest's canonical JSON (sorted keys, no spaces)."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


@dataclass
class Step:
    """What one step measured (latencies in seconds)."""

    candidates: int
    segment_s: list[float] = field(default_factory=list)
    clock_s: list[float] = field(default_factory=list)
    segments: int = 0
    bytes: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    errors: int = 0

    def count(self, status: str) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if not status.startswith("2"):
            self.errors += 1


def pct(values: list[float], q: float) -> float | None:
    """The q-quantile (0..1) of ``values``, or None when empty."""
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))], 4)


class Candidate:
    """One simulated candidate; its loop runs until ``stop`` is set."""

    def __init__(self, job: dict, index: int, client: aiohttp.ClientSession) -> None:
        self.job, self.index, self.client = job, index, client
        self.base = job["url"]
        self.headers: dict[str, str] = {}
        self.session_id, self.key, self.prev, self.seq = "", b"", "", 0

    async def enter(self) -> None:
        if self.job["kind"] != "ours":
            return
        person = self.job["people"][self.index]
        reply = await self._ok("POST", "/api/v1/auth/password",
                               json={"id_number": person, "password": self.job["password"]})
        self.headers = {"Authorization": f"Bearer {reply['token']}"}
        exam = self.job["exam_id"]
        await self._ok("POST", f"/api/v1/exams/{exam}/accept", json={})
        reply = await self._ok("POST", f"/api/v1/exams/{exam}/sessions", json={})
        self.session_id, self.key = reply["session_id"], reply["session_key"].encode()

    async def _ok(self, method: str, path: str, **kwargs) -> dict:
        for _attempt in range(20):  # the start-of-exam rush may meet 503s: back off
            async with self.client.request(method, self.base + path, headers=self.headers,
                                           **kwargs) as resp:
                body = await resp.read()
                if resp.status not in (429, 503):
                    resp.raise_for_status()
                    return json.loads(body) if body else {}
                retry = float(resp.headers.get("Retry-After", "1"))
            await asyncio.sleep(retry + random.random())
        raise RuntimeError(f"{method} {path}: still busy after 20 tries")

    async def run(self, steps: list[Step], stop: asyncio.Event, payloads: list) -> None:
        interval = self.job["interval_s"]
        await asyncio.sleep(random.random() * interval)  # candidates do not march in step
        while not stop.is_set():
            started = time.monotonic()
            step = steps[-1]
            data, sha_hex, checksum = payloads[self.seq % len(payloads)]
            ours = self.job["kind"] == "ours"
            line = self._line(sha_hex, len(data)) if ours else None
            event = {"events": [{"id": f"e{self.seq}", "kind": "focus_lost",
                                 "at": "2026-12-01T09:00:00.000+08:00", "details": {}}]}
            carried = ours and not self.job.get("post_events")
            # an event the creation did not record is posted, as the client then does
            recorded = await self._segment(step, data, sha_hex, checksum, line,
                                           event if carried else None)
            if ours:
                await self._extras(step, None if recorded else event)
            self.seq += 1
            await asyncio.sleep(max(0.0, started + interval - time.monotonic()))

    def _line(self, sha_hex: str, size: int) -> str:
        """This segment's signed manifest line (chained to the one before)."""
        record = {"seq": self.seq, "track": "screen", "start": "2026-12-01T09:00:00.000+08:00",
                  "duration_ms": 2000, "bytes": size, "sha256": sha_hex, "prev": self.prev,
                  "encoder": "libx264"}
        record["mac"] = hmac.new(self.key, canonical(record), hashlib.sha256).hexdigest()
        line = canonical(record).decode()
        self.prev = hashlib.sha256(line.encode()).hexdigest()
        return line

    async def _segment(self, step: Step, data: bytes, sha_hex: str, checksum: str,
                       line: str | None, event: dict | None) -> bool:
        """One segment over tus; True when its creation recorded the carried ``event``."""
        meta = {"session_id": self.session_id or "bench", "track": "screen",
                "seq": str(self.seq), "sha256": sha_hex, "filename": f"{self.seq:06d}.mp4"}
        if line is not None:
            meta["manifest"] = line
        if event is not None:  # as the client joins them: the session named, compact JSON
            meta["events"] = json.dumps({"session_id": self.session_id, **event},
                                        separators=(",", ":"))
        encoded = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}"
                           for k, v in meta.items())
        started = time.monotonic()
        try:
            async with self.client.post(self.base + "/files/", headers={
                    **TUS, **self.headers, "Upload-Length": str(len(data)),
                    "Upload-Metadata": encoded}) as created:
                await created.read()
                if created.status != 201:
                    step.count(str(created.status))
                    return False
                if line is not None and created.headers.get("Zhishiyun-Manifest") != "recorded":
                    step.count("manifest_not_recorded")
                recorded = created.headers.get("Zhishiyun-Events") == "recorded"
                if event is not None and not recorded:
                    step.count("events_not_recorded")
                location = self.base + "/files/" + created.headers["Location"].rsplit("/", 1)[1]
            async with self.client.patch(location, data=data, headers={
                    **TUS, **self.headers, "Upload-Offset": "0", "Upload-Checksum": checksum,
                    "Content-Type": "application/offset+octet-stream"}) as patched:
                await patched.read()
                status = patched.status
            step.count(str(status))
            if status == 204:
                step.segment_s.append(time.monotonic() - started)
                step.segments += 1
                step.bytes += len(data)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            step.count(type(exc).__name__)
            return False
        return event is not None and recorded

    async def _extras(self, step: Step, event: dict | None) -> None:
        sid = self.session_id
        calls = [] if event is None else [("POST", f"/api/v1/sessions/{sid}/events", event)]
        if self.seq % 5 == 0:
            calls.append(("PUT", f"/api/v1/sessions/{sid}/answers/q1",
                          {"version": self.seq + 1, "content": "answer " * 40}))
        try:
            for method, path, body in calls:
                async with self.client.request(method, self.base + path, json=body,
                                               headers=self.headers) as resp:
                    await resp.read()
                    step.count(str(resp.status))
            started = time.monotonic()
            async with self.client.get(self.base + "/api/v1/time") as resp:
                await resp.read()
                status = resp.status
            step.count(str(status))
            if status == 200:
                step.clock_s.append(time.monotonic() - started)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            step.count(type(exc).__name__)


def summary(step: Step, window_s: float) -> dict:
    """The JSON line of one finished step of this generator (raw latencies included)."""
    return {"event": "step", "candidates": step.candidates, "window_s": round(window_s, 3),
            "segments": step.segments, "bytes": step.bytes, "errors": step.errors,
            "statuses": step.statuses, "segment_s": [round(x, 4) for x in step.segment_s],
            "clock_s": [round(x, 4) for x in step.clock_s]}


def merged(parts: list[dict]) -> dict:
    """One step's numbers over every generator process (``parts``: their step lines)."""
    window = max(part["window_s"] for part in parts)
    segment_s = [x for part in parts for x in part["segment_s"]]
    clock_s = [x for part in parts for x in part["clock_s"]]
    statuses: dict[str, int] = {}
    for part in parts:
        for status, count in part["statuses"].items():
            statuses[status] = statuses.get(status, 0) + count
    segments, size = sum(p["segments"] for p in parts), sum(p["bytes"] for p in parts)
    return {"candidates": sum(p["candidates"] for p in parts), "window_s": round(window, 2),
            "segments": segments, "segments_per_s": round(segments / window, 2),
            "mib_per_s": round(size / window / 2**20, 3), "bytes": size,
            "segment_p50_s": pct(segment_s, 0.5), "segment_p95_s": pct(segment_s, .95),
            "segment_p99_s": pct(segment_s, 0.99), "clock_p50_s": pct(clock_s, 0.5),
            "clock_p95_s": pct(clock_s, 0.95), "clock_p99_s": pct(clock_s, 0.99),
            "errors": sum(p["errors"] for p in parts), "statuses": statuses,
            "mean_segment_s": round(statistics.fmean(segment_s), 4) if segment_s else None}


def emit(line: dict) -> None:
    """One JSON line to the parent."""
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def share(count: int, job: dict) -> int:
    """This generator's part of ``count`` candidates (``job["shard"]`` of ``job["shards"]``)."""
    shards, shard = job.get("shards", 1), job.get("shard", 0)
    return count // shards + (1 if shard < count % shards else 0)


async def main(job: dict) -> None:
    """Run the steps of ``job``; after each, the parent says ``next`` or ``stop`` on stdin."""
    size = job["segment_bytes"]
    payloads = []
    for _ in range(4):
        data = os.urandom(size)
        digest = hashlib.sha256(data)
        payloads.append((data, digest.hexdigest(),
                         "sha256 " + base64.b64encode(digest.digest()).decode()))
    loop = asyncio.get_running_loop()
    connector = aiohttp.TCPConnector(limit=0)  # one keep-alive connection per busy candidate
    timeout = aiohttp.ClientTimeout(total=job["timeout_s"])
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:
        people: list[Candidate] = []
        tasks: list[asyncio.Task] = []
        stop = asyncio.Event()
        steps: list[Step] = [Step(0)]
        for count in job["steps"]:
            mine = share(count, job)
            fresh = [Candidate(job, i, client) for i in range(len(people), mine)]
            for start in range(0, len(fresh), 20):  # log in twenty at a time
                await asyncio.gather(*(c.enter() for c in fresh[start:start + 20]))
            people += fresh
            warm = Step(mine)
            steps.append(warm)
            tasks += [asyncio.create_task(c.run(steps, stop, payloads)) for c in fresh]
            await asyncio.sleep(job["interval_s"] * 1.5)  # everyone has reached the pace
            step = Step(mine)
            steps.append(step)
            emit({"event": "step_start", "candidates": mine})
            opened = time.monotonic()
            await asyncio.sleep(job["step_s"])
            steps.append(Step(mine))  # late replies of this window count for nobody
            emit(summary(step, time.monotonic() - opened))
            if (await loop.run_in_executor(None, sys.stdin.readline)).strip() != "next":
                break
        stop.set()
        await asyncio.wait(tasks, timeout=job["timeout_s"] + 5)
    emit({"event": "done"})


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        print("usage: server_load_client.py JOB_JSON  (started by benchmarks/server_load.py; "
              "run that instead)")
        sys.exit(0 if sys.argv[1:] in (["-h"], ["--help"]) else 2)
    asyncio.run(main(json.loads(sys.argv[1])))
