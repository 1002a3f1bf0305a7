"""The language changes at once from the name menu: no restart, the page stays."""

from __future__ import annotations

from zhishiyun.i18n import current_language, set_language
from zhishiyun.ui.main_window import MainWindow
from zhishiyun.ui.qt import QMessageBox

from .conftest import DEMO_ID, DEMO_PASSWORD, make_services


def test_switching_to_chinese_retranslates_the_home_pages_live(qtbot, demo_server,
                                                              monkeypatch):
    def no_dialog(*_args, **_kwargs):
        raise AssertionError("no 'restart to change the language' dialog")

    monkeypatch.setattr(QMessageBox, "information", no_dialog)
    services = make_services(demo_server.url)
    window = MainWindow(services)
    qtbot.addWidget(window)
    window.show()
    window._on_config_loaded(services.client.config().model_dump(), None)
    window._on_logged_in(services.client.login_password(DEMO_ID, DEMO_PASSWORD))
    home = window.home
    home.show_page("devices")
    assert home.nav_buttons["exams"].text() == "My exams"
    zh = next(a for a in home.name_button.menu().actions()[1].menu().actions()
              if a.text() == "简体中文")
    try:
        zh.trigger()
        assert current_language() == "zh_CN"
        assert window.home is not home, "rebuilt in the new language"
        assert window.home.nav_buttons["exams"].text() == "我的考试"
        assert window.home.stack.currentIndex() == window.home.PAGES.index("devices")
        assert window.windowTitle() != "Zhishiyun exam client"
        qtbot.waitUntil(lambda: len(window.home.exams.cards()) == 3, timeout=15_000)
    finally:
        set_language("en")
        window.home.shutdown()
