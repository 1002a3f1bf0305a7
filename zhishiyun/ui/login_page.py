"""Login: face login (name + ID number + camera), password login when the server allows it."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from zhishiyun.i18n import _
from zhishiyun.ui.errors import message_for
from zhishiyun.ui.qt import (
    QCheckBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)
from zhishiyun.ui.style import set_variant
from zhishiyun.ui.tasks import on_main, run_task
from zhishiyun.ui.widgets import CardWidget, PreviewWidget, button, label

log = logging.getLogger(__name__)
ID_NUMBER = re.compile(r"^\d{17}[\dXx]$")

#: ``start_face_login(name, id_number, callbacks)`` -> a session with ``cancel()``, or None
#: when this build has no face engine. Callbacks are plain functions called on any thread.
FaceLoginFactory = Callable[..., Any]


def _error(widget, text: str) -> None:
    widget.setText(text)
    set_variant(widget, "role", "error")
    widget.setVisible(bool(text))


class LoginWidget(QWidget):
    """Face / password login with the consent checkbox; emits ``logged_in(login_reply)``."""

    logged_in = Signal(object)

    def __init__(self, client: Any, server_config: dict, *,
                 face_login: FaceLoginFactory | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._client = client
        self._config = server_config or {}
        self._face_login = face_login
        self._face_session: Any = None
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self._build_hero(), 5)
        form_side = QWidget()
        form_side.setObjectName("page")
        side = QVBoxLayout(form_side)
        side.setContentsMargins(56, 40, 56, 40)
        side.addStretch(1)
        card = CardWidget(margins=28)
        card.setFixedWidth(470)
        card.body.setSpacing(12)
        card.body.addWidget(label(_("Candidate login"), "title"))
        tabs = QHBoxLayout()
        self.face_tab = button(_("Face login"), "link", name="faceTab")
        self.password_tab = button(_("Password login"), "link", name="passwordTab")
        for tab in (self.face_tab, self.password_tab):
            tab.setCheckable(True)
            tabs.addWidget(tab)
        tabs.addStretch(1)
        card.body.addLayout(tabs)
        self.forms = QStackedWidget()
        self.forms.addWidget(self._build_face_form())
        self.forms.addWidget(self._build_password_form())
        card.body.addWidget(self.forms)
        consent_row = QHBoxLayout()
        self.consent = QCheckBox()
        self.consent.setObjectName("consent")
        self.consent.setAccessibleName(_("Agree to the User Agreement and the Privacy Policy"))
        self.consent.toggled.connect(self._on_consent_toggled)
        consent_text = label(_("I have read and agree to the User Agreement and the Privacy "
                               "Policy (camera, microphone and screen are recorded during "
                               "exams)"), "muted", wrap=True)
        consent_text.setBuddy(self.consent)
        consent_row.addWidget(self.consent, 0, Qt.AlignmentFlag.AlignTop)
        consent_row.addWidget(consent_text, 1)
        card.body.addLayout(consent_row)
        side.addWidget(card, 0, Qt.AlignmentFlag.AlignHCenter)
        side.addStretch(1)
        row.addWidget(form_side, 6)
        password_allowed = bool(self._config.get("password_login"))
        self.password_tab.setVisible(password_allowed)
        self.face_tab.clicked.connect(lambda: self._show_form(0))
        self.password_tab.clicked.connect(lambda: self._show_form(1))
        self._show_form(0)
        self._on_consent_toggled(False)

    # --- layout ---------------------------------------------------------------------------

    def _build_hero(self) -> QWidget:
        hero = QWidget()
        hero.setObjectName("loginHero")
        hero.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        box = QVBoxLayout(hero)
        box.setContentsMargins(48, 48, 48, 48)
        box.addStretch(1)
        org = self._config.get("org_name") or ""
        box.addWidget(label(_("Zhishiyun online exams"), "heroTitle", wrap=True))
        box.addWidget(label(org, "heroText", wrap=True))
        box.addSpacing(16)
        box.addWidget(label(_("Enter your name and ID number, then look into the camera. "
                              "If face login fails, call the service phone; password login "
                              "works once the exam organiser opens it."), "heroText",
                            wrap=True))
        box.addStretch(2)
        return hero

    def _build_face_form(self) -> QWidget:
        page = QWidget()
        box = QVBoxLayout(page)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(10)
        self.face_name = QLineEdit()
        self.face_name.setObjectName("faceName")
        self.face_name.setPlaceholderText(_("Name"))
        self.face_id = QLineEdit()
        self.face_id.setObjectName("faceId")
        self.face_id.setPlaceholderText(_("ID number"))
        self.face_id.setMaxLength(18)
        self.preview = PreviewWidget(_("The camera picture appears here"))
        self.preview.setFixedHeight(220)
        self.preview.setMargin(16)
        self.face_hint = label("", "muted", wrap=True, name="faceHint")
        self.face_error = label("", "error", wrap=True, name="faceError")
        self.face_error.hide()
        self.face_button = button(_("Face login"), "primary", name="faceLogin")
        self.face_button.clicked.connect(self._on_face_login_clicked)
        for widget in (self.face_name, self.face_id, self.preview, self.face_hint,
                       self.face_error, self.face_button):
            box.addWidget(widget)
        if not self._config.get("face_login", True):
            self.preview.show_placeholder(_("Face login is not available on this server. Use "
                                            "password login or call the service phone."))
        elif self._face_login is None:
            self.preview.show_placeholder(_("Face login is not available in this version of "
                                            "the client yet. Use password login if the "
                                            "organiser has opened it."))
        self.face_hint.hide()
        return page

    def _build_password_form(self) -> QWidget:
        page = QWidget()
        box = QVBoxLayout(page)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(10)
        self.id_number = QLineEdit()
        self.id_number.setObjectName("idNumber")
        self.id_number.setPlaceholderText(_("ID number"))
        self.id_number.setMaxLength(18)
        self.password = QLineEdit()
        self.password.setObjectName("password")
        self.password.setPlaceholderText(_("Password"))
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.returnPressed.connect(self._on_password_login_clicked)
        self.password_error = label("", "error", wrap=True, name="passwordError")
        self.password_error.hide()
        self.password_button = button(_("Log in"), "primary", name="passwordLogin")
        self.password_button.setDefault(True)
        self.password_button.clicked.connect(self._on_password_login_clicked)
        for widget in (self.id_number, self.password, self.password_error,
                       self.password_button):
            box.addWidget(widget)
        box.addStretch(1)
        return page

    def _show_form(self, index: int) -> None:
        for i in range(self.forms.count()):
            policy = QSizePolicy.Policy.Preferred if i == index else QSizePolicy.Policy.Ignored
            self.forms.widget(i).setSizePolicy(QSizePolicy.Policy.Preferred, policy)
        self.forms.setCurrentIndex(index)
        self.forms.adjustSize()
        self.face_tab.setChecked(index == 0)
        self.password_tab.setChecked(index == 1)
        (self.face_name if index == 0 else self.id_number).setFocus()

    def _on_consent_toggled(self, checked: bool) -> None:
        face_ready = bool(self._config.get("face_login", True)) and self._face_login is not None
        self.face_button.setEnabled(checked and face_ready)
        self.password_button.setEnabled(checked)

    # --- password login --------------------------------------------------------------------

    def _on_password_login_clicked(self) -> None:
        if not self.consent.isChecked():
            _error(self.password_error, _("Please agree to the User Agreement and the "
                                          "Privacy Policy first."))
            return
        id_number = self.id_number.text().strip().upper()
        password = self.password.text()
        if not ID_NUMBER.match(id_number):
            _error(self.password_error, _("Enter your 18-character ID number."))
            return
        if not password:
            _error(self.password_error, _("Enter your password."))
            return
        _error(self.password_error, "")
        self.password_button.setEnabled(False)
        self.password_button.setText(_("Logging in…"))
        client = self._client
        run_task(lambda: client.login_password(id_number, password), self._on_login_done)

    def _on_login_done(self, reply: Any, error: BaseException | None) -> None:
        self.password_button.setText(_("Log in"))
        self.password_button.setEnabled(self.consent.isChecked())
        if error is not None:
            _error(self.password_error, message_for(error))
            self.password.selectAll()
            self.password.setFocus()
            return
        self.password.clear()
        self.logged_in.emit(reply)

    # --- face login ------------------------------------------------------------------------

    def _on_face_login_clicked(self) -> None:
        if self._face_login is None:
            return
        name, id_number = self.face_name.text().strip(), self.face_id.text().strip().upper()
        if not name or not ID_NUMBER.match(id_number):
            _error(self.face_error, _("Enter your name and your 18-character ID number."))
            return
        _error(self.face_error, "")
        self.face_button.setEnabled(False)
        self._face_session = self._face_login(
            name, id_number,
            on_frame=on_main(self.preview.show_frame),
            on_hint=on_main(self._on_face_hint),
            on_result=on_main(self._on_face_result),
        )

    def _on_face_hint(self, text: str) -> None:
        self.face_hint.setText(text)
        self.face_hint.setVisible(bool(text))

    def _on_face_result(self, reply: Any, error: BaseException | None = None) -> None:
        self._face_session = None
        self.face_button.setEnabled(self.consent.isChecked())
        if error is not None:
            _error(self.face_error, message_for(error))
            return
        self.logged_in.emit(reply)

    def stop(self) -> None:
        """Release the camera if face login is running."""
        if self._face_session is not None:
            try:
                self._face_session.cancel()
            except Exception:  # noqa: BLE001 - closing anyway
                log.exception("face login did not cancel cleanly")
            self._face_session = None

    def focus_button(self) -> QPushButton:
        """The primary button of the visible form (tests, keyboard)."""
        return self.face_button if self.forms.currentIndex() == 0 else self.password_button
