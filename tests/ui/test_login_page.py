"""Login: consent first, inline errors (wrong password, locked out, unreachable), success."""

from __future__ import annotations

import re

from zhishiyun.api.client import ServerClient
from zhishiyun.config import load_settings
from zhishiyun.ui.login_page import LoginWidget
from zhishiyun.ui.qt import Qt

from .conftest import DEMO_ID, DEMO_PASSWORD

LEFT = Qt.MouseButton.LeftButton


def make_page(qtbot, url, config=None):
    client = ServerClient.from_settings(load_settings({"server_url": url}))
    if config is None:
        config = client.config().model_dump()
    page = LoginWidget(client, config)
    qtbot.addWidget(page)
    page.show()
    return page


def type_login(qtbot, page, id_number, password):
    qtbot.mouseClick(page.password_tab, LEFT)
    page.id_number.clear()
    page.password.clear()
    qtbot.keyClicks(page.id_number, id_number)
    qtbot.keyClicks(page.password, password)


def test_password_login_succeeds_after_consent(qtbot, demo_server):
    page = make_page(qtbot, demo_server.url)
    assert page.password_tab.isVisible(), "the demo server enables password login"
    type_login(qtbot, page, DEMO_ID, DEMO_PASSWORD)
    assert not page.password_button.isEnabled(), "no login before the consent is given"
    page.consent.setChecked(True)
    with qtbot.waitSignal(page.logged_in, timeout=15_000) as signal:
        qtbot.keyClick(page.password, Qt.Key.Key_Return)
    assert signal.args[0].candidate.name == "张三"
    assert page.password.text() == "", "the password does not stay in the form"


def test_face_login_page_says_when_the_server_does_not_offer_it(qtbot, demo_server):
    page = make_page(qtbot, demo_server.url, config={"password_login": True,
                                                     "face_login": False})
    assert page.face.note.isVisible()
    assert "not available on this server" in page.face.note.text()
    page.consent.setChecked(True)
    assert not page.face_button.isEnabled()


def test_password_tab_hidden_when_server_disallows_it(qtbot, demo_server):
    page = make_page(qtbot, demo_server.url, config={"password_login": False,
                                                     "face_login": True})
    assert not page.password_tab.isVisible()


def test_wrong_password_then_lockout_are_shown_inline(qtbot, server_factory):
    server = server_factory()
    page = make_page(qtbot, server.url)
    page.consent.setChecked(True)

    type_login(qtbot, page, DEMO_ID, "not-the-password")
    qtbot.mouseClick(page.password_button, LEFT)
    qtbot.waitUntil(lambda: page.password_error.isVisible() and page.password_button.isEnabled(),
                    timeout=15_000)
    assert "wrong" in page.password_error.text()

    for _ in range(6):  # the server locks the ID number after a few failures
        qtbot.mouseClick(page.password_button, LEFT)
        qtbot.waitUntil(page.password_button.isEnabled, timeout=15_000)
        if "wait" in page.password_error.text():
            break
    text = page.password_error.text()
    assert re.search(r"Too many attempts\. Please wait \d+ (seconds|minutes)", text), text

    type_login(qtbot, page, "12345", "x")
    qtbot.mouseClick(page.password_button, LEFT)
    assert "18-character" in page.password_error.text(), "bad ID numbers never reach the server"


def test_unreachable_server_is_explained(qtbot, server_factory):
    server = server_factory()
    page = make_page(qtbot, server.url)
    server.stop()
    page.consent.setChecked(True)
    type_login(qtbot, page, DEMO_ID, DEMO_PASSWORD)
    qtbot.mouseClick(page.password_button, LEFT)
    qtbot.waitUntil(lambda: page.password_error.isVisible() and page.password_button.isEnabled(),
                    timeout=20_000)
    assert "Cannot reach the exam server" in page.password_error.text()
