"""The session-page benchmark still runs (its --smoke mode) and reports what it promises."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "review_page.py"


def test_review_page_benchmark_smoke_reports_page_and_reference_times():
    done = subprocess.run([sys.executable, str(SCRIPT), "--smoke"], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["page_rows"] == {"events": 50, "versions": 6, "pieces": 24}  # all shown
    assert report["page_s"]["median"] > 0 and report["reference_s"]["median"] > 0
    assert report["ratio_page_vs_reference"] > 0
    assert report["ok"] is True
