"""The reference server fuzzed through its own OpenAPI with a real token: no 5xx anywhere.

Schemathesis (``st``) generates boundary values (the coverage phase: huge integers, empty and
odd strings, wrong types) and random ones (fuzzing) for every operation, a bounded number
per operation, against the real server over HTTP, on SQLite and on PostgreSQL. Operations
that end the token or the session (logout, finish) are left out so that the run keeps its
login.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require
from tests.server.hardening import enter
from tests.server.support import pg_url, running_server

#: Examples per operation and phase, and the wall-clock cap of one run.
MAX_EXAMPLES = 15
RUN_TIMEOUT_S = 300
STARTED = {"ZHISHIYUN_DEMO_WRITTEN_START_DELAY_S": "0"}


def schemathesis_cli() -> list[str]:
    st = Path(sys.executable).with_name("st")
    if st.exists():
        return [str(st)]
    found = shutil.which("st")
    if not found:
        require("schemathesis", "the API fuzz suite runs the `st` command (pip install "
                "schemathesis)")
    return [found]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_no_operation_answers_a_server_error(tmp_path_factory, tmp_path, backend):
    if backend == "postgres" and not pg_url():
        require("PostgreSQL", "ZHISHIYUN_TEST_PG_URL names the test server")
    command = schemathesis_cli()
    with running_server(tmp_path_factory, backend, env=STARTED) as server:
        inside = enter(server.url)
        report = tmp_path / "junit.xml"
        config = tmp_path / "schemathesis.toml"  # the real session, so its routes go deep
        config.write_text(f'[parameters]\n"path.session_id" = "{inside.session_id}"\n',
                          encoding="utf-8")
        result = subprocess.run(
            [*command, "--config-file", str(config), "run", f"{server.url}/openapi.json",
             "-H", f"Authorization: Bearer {inside.token}",
             "--checks", "not_a_server_error", "--phases", "coverage,fuzzing",
             "--max-examples", str(MAX_EXAMPLES), "--request-timeout", "10",
             "--exclude-path-regex", "logout|finish", "--report", "junit",
             "--report-junit-path", str(report), "--no-color"],
            capture_output=True, text=True, timeout=RUN_TIMEOUT_S, cwd=tmp_path)
        log = (server.data_dir / "server.log").read_text(errors="replace")
    tail = result.stdout[-6000:]
    assert result.returncode == 0, f"schemathesis found server errors:\n{tail}"
    assert " passed" in result.stdout and report.exists(), tail
    assert "unhandled error" not in log, log[-4000:]
