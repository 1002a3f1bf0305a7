"""In CI a missing real component fails the run, also when the tests run in parallel workers."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

SAMPLE = '''
from tests.conftest import require


def test_needs_postgres():
    require("PostgreSQL", "a real database")


def test_of_another_os():
    import pytest
    pytest.skip("not on this OS: macOS only")


def test_plain():
    assert True
'''


def run_sample(tmp_path, *args: str, ci: bool) -> tuple[subprocess.CompletedProcess, str]:
    """Run the three sample tests with this suite's conftest; (result, summary file text)."""
    (tmp_path / "test_sample.py").write_text(SAMPLE, encoding="utf-8")
    summary = tmp_path / "summary.txt"
    env = {k: v for k, v in os.environ.items()  # a fresh run, not a worker of this one
           if k not in ("CI", "ZHISHIYUN_TEST_ALLOWED_SKIPS") and not k.startswith("PYTEST_")}
    env.update({"ZHISHIYUN_TEST_SUMMARY": str(summary), "PYTHONPATH": str(REPO)})
    if ci:
        env["CI"] = "true"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider",
         "-q", "--rootdir", str(tmp_path), str(tmp_path / "test_sample.py"), *args],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    return done, summary.read_text(encoding="utf-8") if summary.exists() else ""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "two workers"])
def test_in_ci_a_missing_component_fails_and_is_counted(tmp_path, workers):
    done, summary = run_sample(tmp_path, *workers, ci=True)
    assert done.returncode == 1, done.stdout
    assert "1 failed, 1 passed, 1 skipped" in done.stdout, done.stdout
    assert summary.startswith("unexpected skips: 1 (allowed skips: 1)"), summary
    assert "test_needs_postgres: PostgreSQL missing: a real database" in done.stdout


def test_outside_ci_it_is_a_skip(tmp_path):
    done, summary = run_sample(tmp_path, ci=False)
    assert done.returncode == 0, done.stdout
    assert "1 passed, 2 skipped" in done.stdout, done.stdout
    assert summary.startswith("unexpected skips: 0 (allowed skips: 2)"), summary
