"""Every benchmark in benchmarks/ still runs: its ``--smoke`` mode prints its JSON report.

The full runs are measurements and stay out of the test command; the smoke modes take a
few seconds each and fail here as soon as a benchmark stops starting (a renamed import, a
changed API), so none can rot unnoticed. A new benchmark script is picked up automatically
and must have ``--help`` and a ``--smoke`` mode that prints JSON; ``RATIO_KEYS`` names where
each known benchmark reports its ratio against a reference measured in the same run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"

#: Where each known benchmark reports its ratio(s); a path of keys, ``*`` for every value.
RATIO_KEYS = {
    "upload": [("ratio_uploader_vs_reference",),
               ("link_100_mbit", "ratio_uploader_vs_reference")],
    "checks": [("ratio_concurrent_to_sequential",)],
    "tus_creation_usage": [("counts", "*", "vs_reference")],
    "server_requests": [("configs", "ours_sqlite_disk", "vs_tus_server", "tus"),
                        ("configs", "ours_sqlite_disk", "vs_tus_server", "segment")],
    "face": [("client_guidance_face", "ratio_to_blur"), ("server_burst", "ratio_to_blur")],
    "recording": [("modes", "*", "cpu_ratio"), ("modes", "*", "tracks", "*", "cpu_ratio")],
}


#: Benchmarks whose smoke run has its own test with closer checks (run once, not twice).
OWN_SMOKE_TEST = {
    "review_page": "tests/review/test_review_benchmark_smoke.py",
    "server_load": "tests/server/test_scale_benchmark_smoke.py",
}


def _benchmarks() -> list[str]:
    """Scripts a person runs: a command line (argparse) and a ``__main__`` block.

    Helpers (``common_*``, or a child process a benchmark starts with its job in argv)
    have no command line of their own.
    """
    found = []
    for path in sorted(BENCHMARKS.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        if not path.stem.startswith(("_", "common")) and "argparse" in text \
                and '__name__ == "__main__"' in text and path.stem not in OWN_SMOKE_TEST:
            found.append(path.stem)
    return found


def _needs(name: str) -> None:
    if name == "recording":
        if not os.environ.get("DISPLAY"):
            require("Xvfb", "the recording benchmark grabs a real screen "
                            "(scripts/services.sh start_display)")
        for tool in ("ffmpeg", "ffplay", "pactl"):
            if not shutil.which(tool):
                require(tool, "the recording benchmark's reference and audio")
    if name == "face":
        for module in ("dlib", "skimage", "matplotlib"):
            try:
                __import__(module)
            except ImportError:
                require(module, "the face benchmark's real test faces and models")


def _values(report, path: tuple[str, ...]) -> list:
    if not path:
        return [report]
    head, rest = path[0], path[1:]
    if head == "*":
        assert isinstance(report, dict) and report, f"expected a non-empty object at {path}"
        return [v for item in report.values() for v in _values(item, rest)]
    assert head in report, f"the report has no {head!r} (keys: {sorted(report)})"
    return _values(report[head], rest)


@pytest.mark.slow
@pytest.mark.parametrize("name", _benchmarks())
def test_benchmark_smoke_mode_prints_its_report(name):
    _needs(name)
    script = BENCHMARKS / f"{name}.py"
    help_text = subprocess.run([sys.executable, str(script), "--help"], capture_output=True,
                               text=True, timeout=60)
    assert help_text.returncode == 0, help_text.stderr[-2000:]
    assert "--smoke" in help_text.stdout

    done = subprocess.run([sys.executable, str(script), "--smoke"], capture_output=True,
                          text=True, timeout=240, cwd=BENCHMARKS.parent)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report.get("smoke") is True
    if name not in RATIO_KEYS:
        return  # a new benchmark: runs and prints JSON; list its ratio keys above
    ratios = [v for path in RATIO_KEYS[name] for v in _values(report, path)]
    assert ratios, "a benchmark reports a ratio against a reference measured in the same run"
    assert all(isinstance(v, (int, float)) and v > 0 for v in ratios), ratios


def test_benchmarks_with_their_own_smoke_test_have_one():
    root = BENCHMARKS.parent
    for name, test in OWN_SMOKE_TEST.items():
        assert (BENCHMARKS / f"{name}.py").is_file(), name
        assert f"{name}.py" in (root / test).read_text(encoding="utf-8"), (name, test)

