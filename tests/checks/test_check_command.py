"""``zhishiyun check --headless`` as QA runs it: output formats, exit codes, language."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from zhishiyun import i18n
from zhishiyun.checks import CheckRunner, Status
from zhishiyun.checks.memory import MemoryCheck
from zhishiyun.config import CheckThresholds

LOCAL = "disk,memory,os,processes"


def zhishiyun(*args, env=None):
    return subprocess.run([sys.executable, "-m", "zhishiyun", *args], capture_output=True,
                          text=True, timeout=90, env={**os.environ, **(env or {})})


@pytest.mark.integration
def test_json_against_the_reference_server_exit_code_follows_results(demo_server, tmp_path):
    done = zhishiyun("check", "--headless", "--json", "--server", demo_server.url, "--only",
                     f"server,version,clock,{LOCAL}")
    data = json.loads(done.stdout)
    assert {"ok", "checks", "started_at", "duration_ms", "client_version"} <= set(data)
    by_id = {c["id"]: c for c in data["checks"]}
    assert list(by_id) == ["server", "version", "clock", "disk", "memory", "os", "processes"]
    for check in data["checks"]:
        assert {"id", "status", "message", "details", "fix", "blocking"} <= set(check)
    assert by_id["server"]["status"] == "pass"
    failed = [c["id"] for c in data["checks"] if c["status"] == "fail"]
    assert done.returncode == (1 if failed else 0) and data["ok"] == (not failed)


@pytest.fixture
def anydesk(tmp_path):
    exe = tmp_path / "AnyDesk"
    shutil.copy("/bin/sleep", exe)
    proc = subprocess.Popen([str(exe), "60"])
    yield proc
    proc.kill()
    proc.wait()


@pytest.mark.skipif(not shutil.which("sleep"), reason="needs a sleep binary to rename")
def test_a_failing_check_exits_1_and_junit_records_it(anydesk, tmp_path):
    junit = tmp_path / "out" / "results.xml"
    done = zhishiyun("check", "--headless", "--only", "os,processes", "--junit", str(junit))
    assert done.returncode == 1, done.stderr
    assert "FAIL" in done.stdout and "AnyDesk" in done.stdout  # the table names the tool
    suite = ET.parse(junit).getroot().find("testsuite")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert cases["processes"].find("failure") is not None
    assert cases["os"].find("failure") is None


def test_server_checks_without_a_server_are_bad_usage_in_one_line():
    done = zhishiyun("check", "--headless", "--only", "server,disk")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "needs a server" in done.stderr and "--server" in done.stderr


def test_unwritable_junit_file_is_bad_usage(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    done = zhishiyun("check", "--headless", "--only", "memory", "--junit",
                     str(blocker / "results.xml"))
    assert done.returncode == 2 and "cannot write" in done.stderr


def test_table_in_chinese(tmp_path):
    done = zhishiyun("check", "--headless", "--only", "memory,os", "--language", "zh_CN")
    assert "内存" in done.stdout and "操作系统" in done.stdout
    assert "项通过" in done.stdout


def test_every_check_message_has_a_chinese_translation():
    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po

    source = Path(__file__).resolve().parents[2] / "zhishiyun" / "checks"
    ids = {msg[2] for msg in extract_from_dir(str(source), keywords={"_": None, "N_": None})}
    po = i18n.locale_dir() / "zh_CN" / "LC_MESSAGES" / "zhishiyun.po"
    with po.open("rb") as fh:
        catalog = read_po(fh)
    untranslated = sorted(i for i in ids if not (catalog.get(i) and catalog.get(i).string))
    assert not untranslated


def test_messages_follow_the_language_setting(make_context):
    context = make_context(thresholds=CheckThresholds(memory_total_min_gb=10**6))
    try:
        i18n.set_language("zh_CN")
        result = CheckRunner([MemoryCheck()], context).run().results[0]
    finally:
        i18n.set_language("en")
    assert result.status is Status.FAIL
    assert "至少需要 1e+06 GB" in result.message and result.title == "内存"
