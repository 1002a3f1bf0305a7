"""我的考试: lot drawing, acceptance, the enter button on server time, attachments, hand-over."""

from __future__ import annotations

import os
import signal
from datetime import datetime, timedelta, timezone

import pytest

from zhishiyun.ui.exams_page import ExamsWidget
from zhishiyun.ui.model import as_time, get
from zhishiyun.ui.qt import QDesktopServices, QMessageBox, Qt, QTimer
from zhishiyun.ui.rules_dialog import RulesDialog

from .conftest import logged_in_client, make_services

LEFT = Qt.MouseButton.LeftButton


def accept_rules_dialog(monkeypatch):
    """Drive the real rules dialog: tick "I have read", press Accept."""
    def run(dialog):
        assert not dialog.accept_button.isEnabled(), "accept needs the tick first"
        dialog.read_box.setChecked(True)
        dialog.accept_button.click()
        return dialog.result()

    monkeypatch.setattr(RulesDialog, "exec", run)


def make_page(qtbot, server, tmp_path):
    services = make_services(server.url)
    services.ping()  # measure the server clock, as the status bar does at start-up
    client = logged_in_client(server.url)
    page = ExamsWidget(client, services.server_now, tmp_path / "attachments")
    qtbot.addWidget(page)
    page.resize(1280, 720)
    page.show()
    page.refresh()
    qtbot.waitUntil(lambda: len(page.cards()) == 3, timeout=15_000)
    return page, client, services


def interview_card(page):
    return next(c for c in page.cards() if get(c.exam, "kind") == "interview")


def written_open_card(page):
    return next(c for c in page.cards() if get(c.exam, "kind") == "written"
                and get(c.exam, "state") == "open")


def test_enter_enables_when_the_entry_window_opens_on_server_time(qtbot, server_factory,
                                                                    tmp_path, monkeypatch):
    # The server's clock runs 10 minutes ahead of this computer's and the interview's entry
    # opens a few seconds from now in server time: by its own clock, this computer would
    # keep 进入考试 disabled for another 10 minutes.
    server = server_factory(env={"ZHISHIYUN_SERVER_CLOCK_OFFSET": "600",
                                 "ZHISHIYUN_DEMO_INTERVIEW_DELAY_S": "608"})
    page, client, services = make_page(qtbot, server, tmp_path)
    card = interview_card(page)
    exam_id = get(card.exam, "id")
    opens = as_time(get(card.exam, "entry_opens_at"))
    assert datetime.now(timezone.utc) < opens - timedelta(minutes=5), "precondition"

    assert "Draw your lot first" in card.reason.text()
    assert not card.enter_button.isEnabled()

    # 抽签: confirm, and the number appears on the card (and stays on the server)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    qtbot.mouseClick(card.lottery_button, LEFT)
    qtbot.waitUntil(lambda: get(interview_card(page).exam, "lottery_number") is not None,
                    timeout=15_000)
    card = interview_card(page)
    number = get(card.exam, "lottery_number")
    assert str(number) in card.lottery_button.text() and not card.lottery_button.isEnabled()
    assert str(number) in page.status.text()

    # 已阅并接受
    accept_rules_dialog(monkeypatch)
    qtbot.mouseClick(card.accept_button, LEFT)
    qtbot.waitUntil(lambda: get(interview_card(page).exam, "accepted"), timeout=15_000)
    server_view = next(e for e in client.exams() if e.id == exam_id)
    assert server_view.accepted and server_view.lottery_number == number

    card = interview_card(page)
    if services.server_now() < opens:
        assert not card.enter_button.isEnabled()
        assert "Entry opens in" in card.reason.text()
    qtbot.waitUntil(lambda: interview_card(page).enter_button.isEnabled(), timeout=30_000)
    assert services.server_now() >= opens, "enabled only once server time reached the opening"
    assert datetime.now(timezone.utc) < opens, "… which this computer's clock has not"
    assert "Entry is open" in interview_card(page).reason.text()


def test_entering_hands_over_to_the_exam_window(qtbot, server_factory, tmp_path, monkeypatch):
    server = server_factory()
    page, _client, _services = make_page(qtbot, server, tmp_path)
    card = written_open_card(page)
    assert not card.enter_button.isEnabled(), "rules not accepted yet"
    accept_rules_dialog(monkeypatch)
    qtbot.mouseClick(card.accept_button, LEFT)
    qtbot.waitUntil(lambda: written_open_card(page).enter_button.isEnabled(), timeout=15_000)

    # 进入考试 hands the exam to the exam window (GUI part 2) through one signal
    with qtbot.waitSignal(page.enter_requested, timeout=2_000) as entered:
        qtbot.mouseClick(written_open_card(page).enter_button, LEFT)
    assert get(entered.args[0], "id") == get(card.exam, "id")


def test_attachment_downloads_with_a_safe_name(qtbot, demo_server, tmp_path, monkeypatch):
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url))
    page, client, _services = make_page(qtbot, demo_server, tmp_path)
    card = next(c for c in page.cards() if get(c.exam, "attachments"))
    attachment = get(card.exam, "attachments")[0]
    card.download_requested.emit(card.exam, attachment)
    qtbot.waitUntil(lambda: bool(opened), timeout=15_000)
    saved = tmp_path / "attachments" / str(get(card.exam, "id")) / attachment.filename
    assert saved.read_bytes() == client.download(attachment.url)
    assert opened[0].toLocalFile() == str(saved)


@pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="needs SIGSTOP to stall the server")
def test_event_loop_keeps_turning_during_a_slow_server_reply(qtbot, server_factory, tmp_path):
    server = server_factory()
    page, _client, _services = make_page(qtbot, server, tmp_path)
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(20)
    os.kill(server.process.pid, signal.SIGSTOP)  # the server accepts but does not answer
    try:
        qtbot.mouseClick(page.refresh_button, LEFT)
        assert not page.refresh_button.isEnabled()
        qtbot.wait(1500)
        assert page._loading, "the reply is still outstanding"
        assert len(ticks) >= 20, "the UI thread kept processing events while waiting"
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
    qtbot.waitUntil(lambda: not page._loading, timeout=30_000)
    timer.stop()
    assert page.refresh_button.isEnabled() and len(page.cards()) == 3


def test_exam_card_shows_what_this_computer_still_has_to_upload(qtbot, demo_server, tmp_path):
    from zhishiyun import paths
    from zhishiyun.upload.queue import UploadQueue

    services = make_services(demo_server.url)
    client = logged_in_client(demo_server.url)
    finished = next(e for e in client.exams() if e.session_id)
    queue = UploadQueue(paths.queue_db(services.settings.data_path))
    for seq in range(3):
        segment = tmp_path / f"{seq}.mp4"
        segment.write_bytes(b"x" * 100)
        item = queue.enqueue_segment(finished.session_id, "camera", seq, segment,
                                     demo_server.url + "/files/")
    queue.mark_done(item)
    queue.close()

    page = ExamsWidget(client, services.server_now, tmp_path / "attachments",
                       upload_totals=services.upload_totals)
    qtbot.addWidget(page)
    page.refresh()
    qtbot.waitUntil(lambda: page.card(finished.id) is not None, timeout=15_000)
    card = page.card(finished.id)
    qtbot.waitUntil(lambda: "2 parts still to upload" in card.recordings_label.text(),
                    timeout=10_000)
    assert "segments uploaded" in card.recordings_label.text(), "the server's view stays"


def _place(page, card):
    """The card's rectangle in the page's viewport, and the scroll value."""
    from zhishiyun.ui.qt import QRect, QScrollArea

    scroll = page.findChild(QScrollArea)
    top_left = card.mapTo(scroll.viewport(), card.rect().topLeft())
    return QRect(top_left, card.size()), scroll.verticalScrollBar().value()


def test_the_list_stays_put_after_drawing_a_lot_and_accepting(qtbot, server_factory, tmp_path,
                                                             monkeypatch):
    server = server_factory()
    page, _client, _services = make_page(qtbot, server, tmp_path)
    page.resize(900, 380)  # a short window: the list scrolls
    qtbot.wait(100)
    card = interview_card(page)
    from zhishiyun.ui.qt import QScrollArea

    scroll = page.findChild(QScrollArea)
    scroll.ensureWidgetVisible(card.accept_button)
    qtbot.wait(50)
    before, value = _place(page, card)
    assert value > 0, "precondition: the interview card is scrolled to"
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    card.lottery_button.setFocus()
    qtbot.mouseClick(card.lottery_button, LEFT)
    qtbot.waitUntil(lambda: get(interview_card(page).exam, "lottery_number") is not None,
                    timeout=15_000)
    qtbot.wait(100)  # let any late relayout happen
    card = interview_card(page)
    assert _place(page, card) == (before, value), "the card did not move on screen"
    assert card.isAncestorOf(page.focusWidget()), "the focus stays on the card"

    accept_rules_dialog(monkeypatch)
    card.accept_button.setFocus()
    qtbot.mouseClick(card.accept_button, LEFT)
    qtbot.waitUntil(lambda: get(interview_card(page).exam, "accepted"), timeout=15_000)
    qtbot.wait(100)
    card = interview_card(page)
    assert _place(page, card) == (before, value)
    assert card.isAncestorOf(page.focusWidget())
