"""Start-up checks: results appear, a failed blocking check keeps the door shut, retry works."""

from __future__ import annotations

from zhishiyun.ui.checks_page import ChecksWidget

from .conftest import make_services


def test_failed_server_check_blocks_entry_until_retry_passes(qtbot, server_factory):
    server = server_factory()
    services = make_services(server.url)
    server.stop()  # the candidate's network is down / the server is not reachable

    page = ChecksWidget(services.run_checks, ["server", "disk"], server.url)
    qtbot.addWidget(page)
    page.show()
    page.start()
    qtbot.waitUntil(lambda: len(page.results()) == 2, timeout=30_000)

    server_row = page._rows["server"]
    assert str(server_row.result.status) == "fail"
    assert server_row.result.blocking
    assert server_row.retry_button.isVisible()
    assert server_row.fix.isVisible() and server_row.fix.text()
    assert not page.enter_button.isEnabled()
    assert "Server connection" in page.summary.text()

    server.start()
    qtbot.mouseClick(server_row.retry_button, qtbot_button())
    qtbot.waitUntil(lambda: server_row.result is not None
                    and str(server_row.result.status) == "pass", timeout=30_000)
    qtbot.waitUntil(page.enter_button.isEnabled, timeout=5_000)
    assert not server_row.retry_button.isVisible()
    with qtbot.waitSignal(page.entered, timeout=2_000):
        qtbot.mouseClick(page.enter_button, qtbot_button())


def qtbot_button():
    from zhishiyun.ui.qt import Qt

    return Qt.MouseButton.LeftButton


def version_result(status, **details):
    from zhishiyun.checks.base import CheckResult, Status

    return CheckResult(id="version", status=Status(status), message="version message",
                       fix="install it", blocking=True,
                       details={"current": "0.1.0", "latest": "0.2.0", **details})


def run_with(results):
    def run_checks(on_result, only=None):
        for result in results:
            on_result(result)
    return run_checks


def test_mandatory_update_blocks_and_reports_a_failed_update(qtbot):
    from zhishiyun.update.release import UpdateError

    def update_now(cancel, progress):
        progress(10, 100)
        raise UpdateError("The update cannot be installed during an exam.",
                          code="exam_in_progress")

    page = ChecksWidget(run_with([version_result("fail", minimum="0.2.0")]), ["version"],
                        update_now=update_now)
    qtbot.addWidget(page)
    page.show()
    page.start()
    row = page._rows["version"]
    qtbot.waitUntil(lambda: row.result is not None, timeout=5_000)
    qtbot.waitUntil(page.retry_all_button.isEnabled, timeout=5_000)
    assert row.update_button.isVisible() and not row.skip_button.isVisible()
    assert not page.enter_button.isEnabled(), "a mandatory update blocks entry"
    qtbot.mouseClick(row.update_button, qtbot_button())
    qtbot.waitUntil(lambda: "during an exam" in row.fix.text(), timeout=5_000)
    assert row.update_button.isEnabled() and not page.enter_button.isEnabled()


def test_optional_update_can_be_skipped(qtbot):
    page = ChecksWidget(run_with([version_result("warn")]), ["version"], update_now=None)
    qtbot.addWidget(page)
    page.show()
    page.start()
    row = page._rows["version"]
    qtbot.waitUntil(page.enter_button.isEnabled, timeout=5_000)
    assert row.update_button.isVisible() and row.skip_button.isVisible()
    qtbot.mouseClick(row.skip_button, qtbot_button())
    assert not row.update_button.isVisible() and page.enter_button.isEnabled()
