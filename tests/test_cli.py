from __future__ import annotations

import os
import subprocess
import sys

import pytest

from zhishiyun import __version__


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "zhishiyun", *args], capture_output=True,
                          text=True, timeout=60, env=dict(os.environ))


def test_version_and_help():
    assert run_cli("--version").stdout.strip() == f"zhishiyun {__version__}"
    help_text = run_cli("--help").stdout
    for command in ("check", "devices", "record", "upload", "demo"):
        assert command in help_text


@pytest.mark.parametrize("args", [
    ["check", "--only", "nonsense"],
    ["record", "--out", "x"],
    ["record", "--out", "x", "--seconds", "-1"],
    ["check", "--json", "--junit", "f.xml"],
])
def test_bad_usage_exits_2_with_one_line(args):
    result = run_cli(*args)
    assert result.returncode == 2
    assert "error:" in result.stderr.splitlines()[-1]


def test_bad_command_line_setting_is_one_line_exit_2():
    result = run_cli("config", "show", "--server", "exam.example.cn")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "http(s)://" in result.stderr


def test_a_failing_command_says_so_once_and_logs_it(isolated_home):
    result = run_cli("record", "--out", str(isolated_home / "rec"), "--seconds", "1",
                     "--camera", str(isolated_home / "no-such-video.mp4"), "--mic", "none",
                     "--no-screen")
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("zhishiyun: error:"), result.stderr
    log = (isolated_home / "data" / "logs" / "zhishiyun.log").read_text(encoding="utf-8")
    assert "record failed" in log
