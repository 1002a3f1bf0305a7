"""The whole window: checks → login → home → logout, and what survives a restart."""

from __future__ import annotations

from zhishiyun.config import load_settings, save_user_settings
from zhishiyun.ui.main_window import MainWindow
from zhishiyun.ui.qt import QByteArray, QMainWindow, QMessageBox, Qt

from .conftest import DEMO_ID, DEMO_PASSWORD, make_services

LEFT = Qt.MouseButton.LeftButton


def test_from_checks_to_home_and_back_to_login(qtbot, demo_server, monkeypatch):
    services = make_services(demo_server.url)
    window = MainWindow(services)
    qtbot.addWidget(window)
    window.show()
    window.start()
    qtbot.waitUntil(window.checks.enter_button.isEnabled, timeout=30_000)
    qtbot.mouseClick(window.checks.enter_button, LEFT)
    qtbot.waitUntil(lambda: window.login is not None, timeout=15_000)
    login = window.login
    qtbot.mouseClick(login.password_tab, LEFT)
    login.consent.setChecked(True)
    qtbot.keyClicks(login.id_number, DEMO_ID)
    qtbot.keyClicks(login.password, DEMO_PASSWORD)
    qtbot.mouseClick(login.password_button, LEFT)
    qtbot.waitUntil(lambda: window.home is not None, timeout=15_000)
    home = window.home
    assert "张三" in home.name_button.text()
    qtbot.waitUntil(lambda: len(home.exams.cards()) == 3, timeout=15_000)
    qtbot.waitUntil(lambda: "unread" in home.nav_buttons["messages"].text(), timeout=15_000)
    assert window.status.time_label.text().startswith("Server time")
    qtbot.waitUntil(lambda: window.status.online is True, timeout=15_000)

    for key in home.PAGES:
        qtbot.mouseClick(home.nav_buttons[key], LEFT)
        assert home.stack.currentIndex() == home.PAGES.index(key)
    window.activateWindow()
    home.nav_buttons["exams"].setFocus()
    qtbot.keyClick(home, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert home.stack.currentIndex() == home.PAGES.index("messages"), "Ctrl+3: messages"

    home.logout_action.trigger()
    qtbot.waitUntil(lambda: window.home is None and window.login is not None, timeout=15_000)
    assert services.client.token is None, "the token is forgotten on logout"


def test_language_server_and_geometry_survive_a_restart(qtbot, demo_server, monkeypatch):
    monkeypatch.setattr(QMessageBox, "information", lambda *a, **k: None)
    services = make_services(demo_server.url)
    window = MainWindow(services)
    qtbot.addWidget(window)
    window.show()
    window.setGeometry(40, 50, 1300, 800)
    window._on_config_loaded({"password_login": True, "face_login": False}, None)
    window._on_language_requested("zh_CN")
    window.close()

    settings = load_settings()
    assert settings.language == "zh_CN"
    assert settings.server_url == demo_server.url
    assert settings.window_geometry

    again = MainWindow(make_services(demo_server.url))
    qtbot.addWidget(again)
    # The offscreen screen is small, so Qt fits a restored window into it: compare with
    # what Qt makes of the saved bytes, and with a window that had nothing saved.
    reference = QMainWindow()
    reference.setMinimumSize(again.minimumSize())
    reference.restoreGeometry(QByteArray.fromBase64(settings.window_geometry.encode()))
    assert again.geometry() == reference.geometry()
    save_user_settings({"window_geometry": ""})
    fresh = MainWindow(make_services(demo_server.url))
    qtbot.addWidget(fresh)
    assert fresh.geometry() != again.geometry()


def test_status_bar_counts_queued_uploads(qtbot, demo_server, tmp_path):
    from zhishiyun import paths
    from zhishiyun.ui.status_bar import StatusBarWidget
    from zhishiyun.upload.queue import UploadQueue

    services = make_services(demo_server.url)
    bar = StatusBarWidget(services.runtime)
    qtbot.addWidget(bar)
    qtbot.waitUntil(lambda: bar.pending == 0, timeout=10_000)
    queue = UploadQueue(paths.queue_db(services.settings.data_path))
    segment = tmp_path / "0.mp4"
    segment.write_bytes(b"x" * 10)
    queue.enqueue_segment("s1", "camera", 0, segment, demo_server.url + "/files/")
    queue.enqueue_json("events", "s1", "/sessions/s1/events", {"events": []})
    queue.close()
    bar.count_uploads()
    qtbot.waitUntil(lambda: bar.pending == 2, timeout=10_000)
    assert "2" in bar.uploads_label.text()
    qtbot.waitUntil(lambda: bar.online is True, timeout=15_000)
    assert bar.network_label.text() == "Network: connected"


def test_first_start_without_a_server_asks_for_its_address(monkeypatch):
    from zhishiyun.ui.app import ask_server_url
    from zhishiyun.ui.qt import QInputDialog

    answers = iter([("exam.example.cn", True), ("https://exam.example.cn/", True)])
    prompts = []

    def get_text(_parent, _title, prompt, _mode, _text):
        prompts.append(prompt)
        return next(answers)

    monkeypatch.setattr(QInputDialog, "getText", get_text)
    settings = load_settings()
    assert ask_server_url(settings)
    assert settings.server_url == "https://exam.example.cn"
    assert "not an http(s)://" in prompts[1], "a wrong address is explained, then asked again"
    monkeypatch.setattr(QInputDialog, "getText", lambda *a: ("", False))
    assert not ask_server_url(load_settings()), "cancel means: no server"


def test_a_login_that_expires_returns_to_the_login_page(qtbot, server_factory):
    import requests

    server = server_factory()
    services = make_services(server.url)
    window = MainWindow(services)
    qtbot.addWidget(window)
    window.show()
    window._on_config_loaded(services.client.config(), None)
    reply = services.client.login_password(DEMO_ID, DEMO_PASSWORD)
    window._on_logged_in(reply)
    qtbot.waitUntil(lambda: len(window.home.exams.cards()) == 3, timeout=15_000)
    # The session ends on the server (expired, or revoked by staff) while the app is open.
    requests.post(server.url + "/api/v1/auth/logout", timeout=10,
                  headers={"Authorization": f"Bearer {reply.token}"}).raise_for_status()
    window.home.exams.refresh()
    qtbot.waitUntil(lambda: window.home is None and window.login is not None, timeout=15_000)
    assert window.login.face.error.isVisible(), "said on the form shown first"
    assert "log in again" in window.login.face.error.text()
    assert "log in again" in window.login.password_error.text()
    assert services.client.token is None
