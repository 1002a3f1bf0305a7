"""``benchmarks/server_load.py --smoke`` still runs and reports what the load benchmark promises."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO, require

pytestmark = pytest.mark.integration


def test_server_load_smoke_reports_knees_cpu_and_ratios():
    if shutil.which("node") is None or not (REPO / "tests/interop/node_modules/@tus/server"
                                            ).exists():
        require("node + @tus/server", "the benchmark's reference is the tus project's server")
    done = subprocess.run([sys.executable, "benchmarks/server_load.py", "--smoke", "--only",
                           "tus_server,ours_sqlite_disk"], cwd=REPO, capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert set(report["configs"]) == {"tus_server", "ours_sqlite_disk"}
    for name, result in report["configs"].items():
        assert "error" not in result, (name, result)
        assert isinstance(result["knee_candidates"], int)  # 0 is possible on a busy machine
        step = result["steps"][0]
        for key in ("segments_per_s", "mib_per_s", "segment_p50_s", "segment_p95_s",
                    "segment_p99_s", "errors", "cpu_s_per_mib", "generator_cpu_share"):
            assert key in step
        assert step["segments"] > 0 and step["cpu_s_per_mib"] > 0  # real uploads, real CPU
        assert step["generators"] == 2  # the load comes from several processes
    ours = report["configs"]["ours_sqlite_disk"]
    assert ours["steps"][0]["clock_p99_s"] is not None  # the clock poll is part of the load
    if report["configs"]["tus_server"]["knee_candidates"]:
        assert set(ours["vs_tus_server"]) == {"knee", "cpu_s_per_mib"}
