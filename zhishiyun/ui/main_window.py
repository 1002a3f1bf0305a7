"""The main window: start-up checks → login → home (sidebar pages), with the status bar."""

from __future__ import annotations

import logging
from typing import Any

from zhishiyun.i18n import _, current_language, set_language
from zhishiyun.ui.checks_page import ChecksWidget
from zhishiyun.ui.device_page import DeviceTestWidget
from zhishiyun.ui.errors import message_for, on_login_lost
from zhishiyun.ui.exams_page import ExamsWidget
from zhishiyun.ui.info_pages import FlowWidget, MessagesWidget, ProfileWidget, SupportWidget
from zhishiyun.ui.login_page import LoginWidget
from zhishiyun.ui.model import get
from zhishiyun.ui.qt import (
    QAction,
    QApplication,
    QButtonGroup,
    QByteArray,
    QHBoxLayout,
    QKeySequence,
    QMainWindow,
    QMenu,
    QStackedWidget,
    Qt,
    QTimer,
    QToolButton,
    QVBoxLayout,
    QWidget,
    Signal,
)
from zhishiyun.ui.recordings_page import RecordingsWidget, gather_recordings
from zhishiyun.ui.services import AppServices
from zhishiyun.ui.status_bar import StatusBarWidget
from zhishiyun.ui.tasks import run_task
from zhishiyun.ui.widgets import button, label

HEADER_HEIGHT = 56
MINIMUM_SIZE = (800, 460)

log = logging.getLogger(__name__)


class HomeWidget(QWidget):
    """Header with the name menu, sidebar navigation and the home pages."""

    logout_requested = Signal()
    language_requested = Signal(str)

    PAGES = ("exams", "devices", "messages", "profile", "support", "flow", "recordings")

    def __init__(self, services: AppServices, server_config: dict, candidate: Any,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        client = services.client
        runtime = services.runtime
        self.exams = ExamsWidget(client, runtime.server_now, services.download_dir,
                                 upload_totals=runtime.upload_totals)
        self.devices = DeviceTestWidget(services.device_test, services.settings,
                                        save_settings=services.save_settings)
        self.messages = MessagesWidget(client)
        self.profile = ProfileWidget(client)
        self.support = SupportWidget(server_config, holdings=runtime.local_holdings)
        self.flow = FlowWidget()
        self.recordings = RecordingsWidget(
            lambda: gather_recordings(client, runtime.queue, runtime.data_dir))
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self._build_sidebar())
        right = QVBoxLayout()
        right.setSpacing(0)
        right.addWidget(self._build_header(server_config, candidate))
        self.stack = QStackedWidget()
        for page in (self.exams, self.devices, self.messages, self.profile, self.support,
                     self.flow, self.recordings):
            self.stack.addWidget(page)
        right.addWidget(self.stack, 1)
        row.addLayout(right, 1)
        self.messages.unread_changed.connect(self._on_unread_changed)
        self.profile.profile_changed.connect(self._on_profile_changed)
        self._add_shortcuts()
        self.show_page("exams")
        self.exams.refresh()
        self.messages.refresh()
        self.profile.refresh()

    def _build_header(self, server_config: dict, candidate: Any) -> QWidget:
        header = QWidget()
        header.setObjectName("header")
        header.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        header.setFixedHeight(HEADER_HEIGHT)
        box = QHBoxLayout(header)
        box.setContentsMargins(28, 8, 16, 8)
        box.addWidget(label(get(server_config, "org_name", ""), "subtitle"))
        box.addStretch(1)
        self.name_button = QToolButton()
        self.name_button.setObjectName("nameMenu")
        self.name_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.name_button.setText(self._candidate_text(candidate))
        menu = QMenu(self.name_button)
        profile = QAction(_("Personal information"), menu)
        profile.triggered.connect(lambda: self.show_page("profile"))
        menu.addAction(profile)
        language = menu.addMenu(_("Language"))
        for code, name in (("zh_CN", "简体中文"), ("en", "English")):
            action = QAction(name, language)
            action.setCheckable(True)
            action.setChecked(current_language() == code)
            action.triggered.connect(lambda _c=False, c=code: self.language_requested.emit(c))
            language.addAction(action)
        menu.addSeparator()
        self.logout_action = QAction(_("Log out"), menu)
        self.logout_action.triggered.connect(self.logout_requested.emit)
        menu.addAction(self.logout_action)
        self.name_button.setMenu(menu)
        box.addWidget(self.name_button)
        return header

    @staticmethod
    def _candidate_text(candidate: Any) -> str:
        name = get(candidate, "name", "")
        masked = get(candidate, "id_number_masked", "")
        return f"{name}  {masked}" if masked else name

    def _build_sidebar(self) -> QWidget:
        side = QWidget()
        side.setObjectName("sidebar")
        side.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        side.setMinimumWidth(200)  # grows for longer translations
        box = QVBoxLayout(side)
        box.setContentsMargins(12, 14, 12, 16)
        box.setSpacing(6)
        brand = label(_("Zhishiyun"), "brand")
        brand.setContentsMargins(8, 0, 0, 0)
        box.addWidget(brand)
        box.addSpacing(22)
        self.nav = QButtonGroup(self)
        self.nav.setExclusive(True)
        self.nav_buttons = {}
        names = {"exams": _("My exams"), "devices": _("Device test"),
                 "messages": _("Messages"), "profile": _("Personal information"),
                 "support": _("Support centre"), "flow": _("Exam flow"),
                 "recordings": _("Exam recordings")}
        for key in self.PAGES:
            nav_button = button(names[key], name=f"nav_{key}")
            nav_button.setCheckable(True)
            nav_button.clicked.connect(lambda _c=False, k=key: self.show_page(k))
            self.nav.addButton(nav_button)
            self.nav_buttons[key] = nav_button
            box.addWidget(nav_button)
        box.addStretch(1)
        return side

    def _add_shortcuts(self) -> None:
        """Ctrl+1…7 switch pages, F5 refreshes the page shown (keyboard-only use)."""
        for number, key in enumerate(self.PAGES, start=1):
            action = QAction(self)
            action.setShortcut(QKeySequence(f"Ctrl+{number}"))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.triggered.connect(lambda _c=False, k=key: self.show_page(k))
            self.addAction(action)
            self.nav_buttons[key].setToolTip(f"Ctrl+{number}")
        refresh = QAction(self)
        refresh.setShortcut(QKeySequence(QKeySequence.StandardKey.Refresh))
        refresh.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        refresh.triggered.connect(self._on_refresh_requested)
        self.addAction(refresh)

    def _on_refresh_requested(self) -> None:
        page = self.PAGES[self.stack.currentIndex()]
        {"exams": self.exams.refresh, "messages": self.messages.refresh,
         "profile": self.profile.refresh, "devices": self.devices.refresh_devices,
         "recordings": self.recordings.refresh}.get(
            page, lambda: None)()

    def show_page(self, key: str) -> None:
        """Switch to one of :attr:`PAGES`."""
        self.stack.setCurrentIndex(self.PAGES.index(key))
        self.nav_buttons[key].setChecked(True)
        if key == "devices":
            self.devices.activate()
        else:
            self.devices.deactivate()
        if key == "recordings":
            self.recordings.refresh()
        else:
            self.recordings.deactivate()

    def _on_unread_changed(self, count: int) -> None:
        text = _("Messages")
        self.nav_buttons["messages"].setText(
            _("{messages} ({n} unread)").format(messages=text, n=count) if count else text)

    def _on_profile_changed(self, profile: Any) -> None:
        self.name_button.setText(self._candidate_text(profile))

    def shutdown(self) -> None:
        """Stop timers and release devices."""
        self.exams.timer.stop()
        self.devices.deactivate()
        self.recordings.deactivate()


class MainWindow(QMainWindow):
    """The application window. ``exam_enter_requested(exam)`` hands over to the exam window."""

    exam_enter_requested = Signal(object)
    language_changed = Signal(str)

    def __init__(self, services: AppServices, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self.server_config: dict = {}
        self.candidate: Any = None
        self.home: HomeWidget | None = None
        self.login: LoginWidget | None = None
        self._login_lost_pending = False
        self.setWindowTitle(_("Zhishiyun exam client"))
        # 1280×720 at 150 % leaves 853×480 logical pixels: every page scrolls below that.
        self.setMinimumSize(*MINIMUM_SIZE)
        self.stack = QStackedWidget()
        self.setCentralWidget(self.stack)
        self.checks = ChecksWidget(services.run_checks, services.check_ids,
                                   services.settings.server_url,
                                   update_now=services.update_now)
        self.checks.entered.connect(self._on_checks_entered)
        self.checks.quit_requested.connect(self._on_quit_requested)
        self.stack.addWidget(self.checks)
        forget = self._forget_listener = on_login_lost(self._on_login_lost)
        self.destroyed.connect(lambda *_args: forget())
        self.status = StatusBarWidget(services.runtime)
        self.setStatusBar(self.status)
        self._restore_geometry()

    # --- start-up --------------------------------------------------------------------------

    def start(self) -> None:
        """Run the start-up checks."""
        self.checks.start()

    def _on_checks_entered(self) -> None:
        self.checks.enter_button.setEnabled(False)
        run_task(self.services.client.config, self._on_config_loaded)

    def _on_config_loaded(self, config: Any, error: BaseException | None) -> None:
        if error is not None:
            self.checks.summary.setText(message_for(error))
            self.checks.enter_button.setEnabled(True)
            return
        self.server_config = _as_dict(config)
        settings = self.services.settings
        # Remember a server the candidate gave (command line or the start-up question) once
        # it answered; never copy the organisation's or the demo's address into the user file.
        if self.services.save_settings and settings.server_url and settings.sources.get(
                "server_url") in ("command line", "asked at start-up"):
            self.services.save_settings({"server_url": settings.server_url})
        self.show_login()

    def show_login(self) -> None:
        """Replace whatever is shown by a fresh login page."""
        if self.login is not None:
            self.login.stop()
            self.stack.removeWidget(self.login)
            self.login.deleteLater()
        self.login = LoginWidget(self.services.client, self.server_config,
                                 face_login=self.services.face_login,
                                 preferred_camera=self.services.settings.camera)
        self.login.logged_in.connect(self._on_logged_in)
        self.stack.addWidget(self.login)
        self.stack.setCurrentWidget(self.login)

    def _on_logged_in(self, reply: Any) -> None:
        self.candidate = get(reply, "candidate")
        log.info("logged in")
        if self.services.on_logged_in:
            self.services.on_logged_in(reply)
        if self.login is not None:
            self.login.stop()
        self.home = HomeWidget(self.services, self.server_config, self.candidate)
        self.home.logout_requested.connect(self._on_logout_requested)
        self.home.language_requested.connect(self._on_language_requested)
        self.home.exams.enter_requested.connect(self.exam_enter_requested.emit)
        self.stack.addWidget(self.home)
        self.stack.setCurrentWidget(self.home)

    # --- name menu -------------------------------------------------------------------------

    def _on_logout_requested(self) -> None:
        client = self.services.client
        run_task(client.logout, self._on_logged_out)

    def _on_login_lost(self, message: str) -> None:
        if self.home is None or self._login_lost_pending or not self.isVisible():
            return  # hidden: the exam window is in front and handles its own errors
        self._login_lost_pending = True
        log.info("the login is no longer valid: back to the login page")
        # Leave the slot that reported it before the home page goes away.
        QTimer.singleShot(0, lambda: self._return_to_login(message))

    def _return_to_login(self, message: str) -> None:
        self._login_lost_pending = False
        self.services.client.tokens.clear()
        self._on_logged_out(None, None)
        if self.login is not None:
            self.login.show_notice(message)

    def _on_logged_out(self, _result: Any, error: BaseException | None) -> None:
        if error is not None:
            log.info("logout on the server failed (%s); the local session ends anyway", error)
        if self.services.on_logged_out:
            self.services.on_logged_out()
        if self.home is not None:
            self.home.shutdown()
            self.stack.removeWidget(self.home)
            self.home.deleteLater()
            self.home = None
        self.show_login()

    def _on_language_requested(self, code: str) -> None:
        if self.services.save_settings:
            self.services.save_settings({"language": code})
        set_language(code)
        self.language_changed.emit(code)
        self.retranslate()

    def retranslate(self) -> None:
        """Show the home pages in the current language now (rebuilt; no restart)."""
        self.setWindowTitle(_("Zhishiyun exam client"))
        old = self.home
        if old is None:
            return
        key = HomeWidget.PAGES[max(0, old.stack.currentIndex())]
        self.home = HomeWidget(self.services, self.server_config, self.candidate)
        self.home.logout_requested.connect(self._on_logout_requested)
        self.home.language_requested.connect(self._on_language_requested)
        self.home.exams.enter_requested.connect(self.exam_enter_requested.emit)
        self.stack.addWidget(self.home)
        self.stack.setCurrentWidget(self.home)
        self.home.show_page(key)
        old.shutdown()
        self.stack.removeWidget(old)
        old.deleteLater()

    def _on_quit_requested(self) -> None:
        self.close()
        QApplication.quit()

    # --- window state ----------------------------------------------------------------------

    def _restore_geometry(self) -> None:
        saved = self.services.settings.window_geometry
        if saved:
            try:
                self.restoreGeometry(QByteArray.fromBase64(saved.encode("ascii")))
                return
            except (ValueError, UnicodeError):
                log.info("saved window geometry ignored")
        screen = QApplication.primaryScreen()
        room = screen.availableGeometry().size() if screen is not None else None
        if room is None or (room.width() >= 1340 and room.height() >= 820):
            self.resize(1280, 760)
        else:  # a small laptop screen, or a large scaling: fill it, title bar included
            self.resize(max(MINIMUM_SIZE[0], room.width() - 16),
                        max(MINIMUM_SIZE[1], room.height() - 48))

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        """Save the geometry and release devices."""
        if self.services.save_settings:
            geometry = bytes(self.saveGeometry().toBase64()).decode("ascii")
            try:
                self.services.save_settings({"window_geometry": geometry})
            except OSError as exc:
                log.warning("window geometry not saved: %s", exc)
        if self.home is not None:
            self.home.shutdown()
        if self.login is not None:
            self.login.stop()
        self.checks.stop()
        self._forget_listener()
        super().closeEvent(event)


def _as_dict(value: Any) -> dict:
    if isinstance(value, dict):
        return value
    for attr in ("raw", "data"):
        raw = getattr(value, attr, None)
        if isinstance(raw, dict):
            return raw
    if hasattr(value, "model_dump"):
        return value.model_dump()
    import dataclasses

    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    return dict(vars(value)) if value is not None else {}
