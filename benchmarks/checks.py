"""Wall time of the local set of pre-exam checks (everything but ``bandwidth``).

Runs the set with the concurrent :class:`~zhishiyun.checks.CheckRunner` and, as the
reference measured in the same run, the same checks one after another in this thread.
Prints JSON: medians, the ratio concurrent / sequential, per-check times and statuses,
and whether the set finished within the 2 s target.

    python benchmarks/checks.py [--rounds 5] [--server URL] [--smoke]

``--smoke`` runs one round (a few seconds): it checks that the benchmark works.

Without ``--server`` a reference server with demo data is started on 127.0.0.1 (when the
``zhishiyun_server`` package is installed), so server, version and clock do real HTTP.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import requests

from zhishiyun.checks import LOCAL_SET, CheckContext, CheckRunner, create_checks
from zhishiyun.config import load_settings

TARGET_MS = 2000


@contextmanager
def demo_server():
    """A reference server with demo data on a free port, or None when it is not installed."""
    try:
        import zhishiyun_server  # noqa: F401
    except ImportError:
        yield None
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as data:
        log = open(Path(data) / "server.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen([sys.executable, "-m", "zhishiyun_server", "--demo", "--data",
                                 data, "--host", "127.0.0.1", "--port", str(port)],
                                stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if requests.get(url + "/api/v1/health", timeout=1).ok:
                        break
                except requests.RequestException:
                    time.sleep(0.1)
            yield url
        finally:
            proc.terminate()
            proc.wait(10)
            log.close()


def context_for(server: str | None) -> CheckContext:
    return CheckContext(load_settings({"server_url": server} if server else {}))


def run_concurrent(server: str | None) -> tuple[float, dict]:
    started = time.perf_counter()
    report = CheckRunner(create_checks(LOCAL_SET), context_for(server)).run()
    wall_ms = (time.perf_counter() - started) * 1000
    return wall_ms, {r.id: (r.status.value, r.duration_ms) for r in report.results}


def run_sequential(server: str | None) -> tuple[float, dict]:
    context = context_for(server)
    per_check = {}
    started = time.perf_counter()
    for check in create_checks(LOCAL_SET):
        t0 = time.perf_counter()
        result = check.run(context)
        per_check[check.id] = (result.status.value, round((time.perf_counter() - t0) * 1000))
    return (time.perf_counter() - started) * 1000, per_check


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--server", help="use this server instead of starting a demo server")
    parser.add_argument("--smoke", action="store_true",
                        help="one round: checks that it runs, measures nothing")
    args = parser.parse_args()
    if args.smoke:
        args.rounds = 1

    with (demo_server() if not args.server else _given(args.server)) as server:
        cold_ms, _ = run_concurrent(server)  # first run: imports OpenCV, PortAudio, …
        concurrent, sequential, last = [], [], {}
        for _round in range(args.rounds):
            seq_ms, _seq = run_sequential(server)
            con_ms, last = run_concurrent(server)
            sequential.append(seq_ms)
            concurrent.append(con_ms)

    median_con, median_seq = statistics.median(concurrent), statistics.median(sequential)
    print(json.dumps({
        "benchmark": "checks_local_set",
        "smoke": args.smoke,
        "load_average": os.getloadavg(),
        "checks": list(LOCAL_SET),
        "server": server,
        "display": os.environ.get("DISPLAY", ""),
        "rounds": args.rounds,
        "cold_first_run_ms": round(cold_ms, 1),
        "concurrent_ms": {"median": round(median_con, 1), "min": round(min(concurrent), 1),
                          "max": round(max(concurrent), 1)},
        "reference_sequential_ms": {"median": round(median_seq, 1),
                                    "min": round(min(sequential), 1),
                                    "max": round(max(sequential), 1)},
        "ratio_concurrent_to_sequential": round(median_con / median_seq, 3),
        "per_check": {k: {"status": s, "ms": ms} for k, (s, ms) in last.items()},
        "target_ms": TARGET_MS,
        "within_target": median_con <= TARGET_MS,
    }, indent=2))
    return 0


@contextmanager
def _given(url: str):
    yield url


if __name__ == "__main__":
    sys.exit(main())
