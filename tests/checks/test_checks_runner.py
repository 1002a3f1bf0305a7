"""The runner: concurrency, timeouts, callbacks and their thread, cancel, reports."""

from __future__ import annotations

import json
import threading
import xml.etree.ElementTree as ET

import pytest

from zhishiyun.checks import ALL_CHECK_IDS, Check, CheckRunner, Status, create_checks
from zhishiyun.checks.report import to_json, to_junit, to_table
from zhishiyun.config import CheckThresholds


class EventCheck(Check):
    """Waits for ``wait_for`` (if given), sets ``done``, returns ``status``."""

    title = "Event"
    timeout_s = 5.0

    def __init__(self, check_id, status=Status.PASS, wait_for=None, raises=None):
        self.id = check_id
        self.status = status
        self.wait_for = wait_for
        self.raises = raises
        self.done = threading.Event()
        self.thread = None

    def run(self, context):
        self.thread = threading.current_thread()
        if self.wait_for is not None:
            self.wait_for.wait()
        self.done.set()
        if self.raises:
            raise self.raises
        return self.result(self.status, f"{self.id} says {self.status.value}", "do this")


def test_hung_check_times_out_and_the_others_still_report(make_context):
    never = threading.Event()  # never set: the check hangs like a frozen camera driver
    hung = EventCheck("camera", wait_for=never)
    quick = EventCheck("disk")
    runner = CheckRunner([hung, quick], make_context(), timeouts={"camera": 0.5})
    report = runner.run()
    camera, disk = report.results
    assert camera.status is Status.FAIL and camera.details["timed_out"] is True
    assert "did not finish within 0.5 s" in camera.message
    assert disk.status is Status.PASS
    assert hung.thread.daemon  # an abandoned thread cannot keep the process alive
    assert not report.ok


def test_checks_run_concurrently(make_context):
    # Each check waits for the other to have started: only concurrent threads finish.
    first_started, second_started = threading.Event(), threading.Event()

    class Rendezvous(Check):
        title = "Rendezvous"

        def __init__(self, check_id, mine, other):
            self.id, self.mine, self.other = check_id, mine, other

        def run(self, context):
            self.mine.set()
            met = self.other.wait(timeout=4)
            return self.result(Status.PASS if met else Status.FAIL, "met" if met else "alone")

    report = CheckRunner([Rendezvous("disk", first_started, second_started),
                          Rendezvous("memory", second_started, first_started)],
                         make_context()).run()
    assert [r.status for r in report.results] == [Status.PASS, Status.PASS]


def test_callbacks_come_on_the_calling_thread_in_completion_order(make_context):
    second = EventCheck("memory")
    first = EventCheck("disk", wait_for=second.done)  # finishes only after "memory"
    seen = []
    report = CheckRunner([first, second], make_context(),
                         on_result=lambda r: seen.append((r.id, threading.current_thread()))
                         ).run()
    assert [i for i, _t in seen] == ["memory", "disk"]
    assert all(t is threading.current_thread() for _i, t in seen)
    assert [r.id for r in report.results] == ["disk", "memory"]  # report keeps given order


def test_in_order_delivery_follows_the_given_order(make_context):
    later = EventCheck("clock")
    server = EventCheck("server", wait_for=later.done)  # completes last
    version = EventCheck("version")
    started, seen = [], []
    CheckRunner([server, version, later], make_context(), in_order=True,
                on_start=lambda c: started.append(c.id),
                on_result=lambda r: seen.append(r.id)).run()
    assert started == ["server", "version", "clock"]
    assert seen == ["server", "version", "clock"]


def test_a_check_that_raises_becomes_a_failure_with_the_error(make_context):
    report = CheckRunner([EventCheck("os", raises=RuntimeError("boom"))], make_context()).run()
    result = report.results[0]
    assert result.status is Status.FAIL and "boom" in result.message
    assert "internal error" in result.message


def test_cancel_reports_unfinished_checks_as_skipped(make_context):
    never = threading.Event()
    runner = None

    class Canceller(Check):
        id, title = "disk", "Canceller"

        def run(self, context):
            runner.cancel()
            return self.result(Status.PASS, "fine")

    runner = CheckRunner([EventCheck("camera", wait_for=never), Canceller()], make_context())
    report = runner.run()
    assert report.cancelled
    assert report.get("camera").status is Status.SKIP


def test_blocking_follows_the_thresholds(make_context):
    context = make_context(thresholds=CheckThresholds(blocking_checks=("disk",)))
    report = CheckRunner([EventCheck("disk", Status.FAIL), EventCheck("memory", Status.FAIL)],
                         context).run()
    assert report.get("disk").blocking and not report.get("memory").blocking
    assert report.blocked and not report.ok


def test_warn_and_skip_keep_the_report_ok(make_context):
    report = CheckRunner([EventCheck("disk", Status.WARN), EventCheck("server", Status.SKIP)],
                         make_context()).run()
    assert report.ok and not report.blocked


def test_json_shape(make_context):
    report = CheckRunner([EventCheck("disk", Status.WARN)], make_context()).run()
    data = json.loads(to_json(report))
    assert {"ok", "checks", "started_at", "duration_ms", "client_version"} <= set(data)
    check = data["checks"][0]
    assert {"id", "status", "message", "details", "fix"} <= set(check)
    assert (check["id"], check["status"], check["fix"]) == ("disk", "warn", "do this")


def test_junit_xml_marks_failures_and_skips(make_context):
    report = CheckRunner([EventCheck("disk", Status.FAIL), EventCheck("server", Status.SKIP),
                          EventCheck("memory", Status.WARN)], make_context()).run()
    root = ET.fromstring(to_junit(report))
    suite = root.find("testsuite")
    assert suite.get("tests") == "3" and suite.get("failures") == "1"
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert cases["disk"].find("failure").get("message") == "disk says fail"
    assert cases["server"].find("skipped") is not None
    assert cases["memory"].find("failure") is None
    assert "WARN" in cases["memory"].find("system-out").text


def test_table_shows_each_check_and_the_fix_for_problems(make_context):
    report = CheckRunner([EventCheck("disk", Status.FAIL), EventCheck("memory")],
                         make_context(thresholds=CheckThresholds(blocking_checks=("disk",)))
                         ).run()
    table = to_table(report)
    assert "FAIL! Event" in table and "→ do this" in table
    assert "1 passed, 0 warnings, 1 failed, 0 skipped" in table
    assert table.count("→") == 1  # no fix line for a passing check


def test_every_id_has_a_check_class():
    checks = create_checks()
    assert [c.id for c in checks] == list(ALL_CHECK_IDS)
    with pytest.raises(KeyError):
        create_checks(["nonsense"])
