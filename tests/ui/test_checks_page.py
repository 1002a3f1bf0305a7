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
