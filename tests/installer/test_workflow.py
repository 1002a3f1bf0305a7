"""The GitHub workflow is valid YAML and builds and smoke-tests Windows and macOS."""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / ".github" / "workflows" / "build.yml"


def _jobs():
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    # YAML 1.1 reads the bare key `on` as True; GitHub reads it as "on"
    assert data.get("on", data.get(True)), "workflow has no triggers"
    return data["jobs"]


def _script(job) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_windows_and_macos_jobs_build_on_their_own_runners_and_smoke_test(build_module):
    jobs = _jobs()
    runners = {name: job["runs-on"] for name, job in jobs.items()}
    assert any(r.startswith("windows") for r in runners.values()), runners
    assert any(r.startswith("macos") for r in runners.values()), runners
    smoke = f"check --headless --json --only {','.join(build_module.SMOKE_CHECKS)}"
    for job in jobs.values():
        if job["runs-on"].startswith(("windows", "macos")):
            script = _script(job)
            assert "installer/build.py" in script
            assert "--version" in script and smoke in script
            assert any("upload-artifact" in step.get("uses", "") for step in job["steps"])


def test_every_step_is_well_formed():
    for name, job in _jobs().items():
        assert job["steps"], name
        for step in job["steps"]:
            assert ("run" in step) != ("uses" in step), (name, step)


def test_linux_job_runs_the_same_ci_script_as_local_ci():
    linux = [j for j in _jobs().values() if j["runs-on"].startswith("ubuntu")]
    assert linux and "installer/build.py --ci" in _script(linux[0])
