"""Every main screen at 1366×768 and 1280×720, at 100, 125 and 150 % scaling.

The real app against the real demo server; each screen's key widgets must be fully visible
(inside the window, not clipped, after scrolling where the page scrolls) and not overlap.
"""

from __future__ import annotations

import pytest

from zhishiyun.ui.main_window import MainWindow

from .conftest import DEMO_ID, DEMO_PASSWORD, make_services
from .layout import SIZES, assert_layout, resize_window

LEFT = pytest.importorskip("PySide6.QtCore").Qt.MouseButton.LeftButton


def each_size(window, widgets) -> None:
    """``widgets()`` (re-read per size) laid out well at every size."""
    for name, width, height in SIZES:
        resize_window(window, width, height)
        assert_layout(widgets(), name)


def test_checks_login_home_and_device_test_fit_laptop_screens(qtbot, demo_server):
    services = make_services(demo_server.url)
    window = MainWindow(services)
    qtbot.addWidget(window)
    window.show()
    window.start()
    checks = window.checks
    qtbot.waitUntil(checks.enter_button.isEnabled, timeout=30_000)
    each_size(window, lambda: {"enter": checks.enter_button, "again": checks.retry_all_button,
                               "summary": checks.summary})

    qtbot.mouseClick(checks.enter_button, LEFT)
    qtbot.waitUntil(lambda: window.login is not None, timeout=15_000)
    login = window.login
    face = login.face
    each_size(window, lambda: {"name": face.name, "id": face.id_number,
                               "camera": face.camera_box, "preview": face.preview,
                               "faceLogin": face.button, "consent": login.consent,
                               "passwordTab": login.password_tab})
    qtbot.mouseClick(login.password_tab, LEFT)
    each_size(window, lambda: {"id": login.id_number, "password": login.password,
                               "login": login.password_button, "consent": login.consent})
    login.consent.setChecked(True)
    qtbot.keyClicks(login.id_number, DEMO_ID)
    qtbot.keyClicks(login.password, DEMO_PASSWORD)
    qtbot.mouseClick(login.password_button, LEFT)
    qtbot.waitUntil(lambda: window.home is not None, timeout=15_000)
    home = window.home
    qtbot.waitUntil(lambda: len(home.exams.cards()) == 3, timeout=15_000)

    def exams():
        shown = {"name": home.name_button, "refresh": home.exams.refresh_button}
        for card in home.exams.cards():
            shown[f"enter {card.objectName()}"] = card.enter_button
            shown[f"accept {card.objectName()}"] = card.accept_button
        for key, nav in home.nav_buttons.items():
            shown[f"nav {key}"] = nav
        return shown

    each_size(window, exams)
    qtbot.mouseClick(home.nav_buttons["devices"], LEFT)
    devices = home.devices
    each_size(window, lambda: {"preview": devices.preview, "camera": devices.camera_box,
                               "mic": devices.mic_box, "level": devices.level,
                               "start": devices.start_button, "play": devices.play_button,
                               "caption": devices.caption})
    qtbot.mouseClick(home.nav_buttons["recordings"], LEFT)
    recordings = home.recordings
    qtbot.waitUntil(lambda: bool(recordings.cards), timeout=15_000)
    each_size(window, lambda: {"refresh": recordings.refresh_button,
                               "parts": recordings.cards[0].parts,
                               "play": recordings.cards[0].play_button})
    home.shutdown()
