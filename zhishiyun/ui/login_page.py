"""Login: face login (name + ID number + camera), password login when the server allows it."""

from __future__ import annotations

import logging
import re
from typing import Any

from zhishiyun.i18n import _
from zhishiyun.ui.errors import message_for
from zhishiyun.ui.face_login_widget import FaceLoginFactory, FaceLoginWidget
from zhishiyun.ui.qt import (
    QCheckBox,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QScrollArea,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)
from zhishiyun.ui.style import set_variant
from zhishiyun.ui.tasks import run_task
from zhishiyun.ui.widgets import CardWidget, button, label

log = logging.getLogger(__name__)
CARD_WIDTH = 470
#: Below this window width the picture side gives its room to the form.
HERO_MIN_WINDOW_WIDTH = 1000
ID_NUMBER = re.compile(r"^\d{17}[\dXx]$")



def _error(widget, text: str) -> None:
    widget.setText(text)
    set_variant(widget, "role", "error")
    widget.setVisible(bool(text))


class LoginWidget(QWidget):
    """Face / password login with the consent checkbox; emits ``logged_in(login_reply)``."""

    logged_in = Signal(object)

    def __init__(self, client: Any, server_config: dict, *,
                 face_login: FaceLoginFactory | None = None, preferred_camera: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._client = client
        self._config = server_config or {}
        self._face_login = face_login
        self._preferred_camera = preferred_camera
        self._form_index = 0
        self._face_session: Any = None
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        self.hero = self._build_hero()
        row.addWidget(self.hero, 5)
        form_side = QWidget()
        form_side.setObjectName("page")
        side = QVBoxLayout(form_side)
        side.setContentsMargins(24, 16, 24, 16)
        side.addStretch(1)
        card = CardWidget(margins=28)
        card.setFixedWidth(CARD_WIDTH)
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
        self.forms = [self._build_face_form(), self._build_password_form()]
        for form in self.forms:  # only the chosen one is shown (and takes room)
            card.body.addWidget(form)
        consent_row = QHBoxLayout()
        self.consent = QCheckBox()
        self.consent.setObjectName("consent")
        self.consent.setAccessibleName(_("Agree to the User Agreement and the Privacy Policy"))
        self.consent.toggled.connect(self._on_consent_toggled)
        consent_text = label(_("I have read and agree to the {user} and the {privacy} (camera, "
                               "microphone and screen are recorded during exams)").format(
            user=f'<a href="user_agreement">{_("User Agreement")}</a>',
            privacy=f'<a href="privacy_policy">{_("Privacy Policy")}</a>'), "muted", wrap=True,
            name="consentText")
        consent_text.setTextFormat(Qt.TextFormat.RichText)
        consent_text.linkActivated.connect(self.show_agreement)
        consent_text.setBuddy(self.consent)
        # The card has a fixed width: reserve the wrapped text's full height up front.
        consent_text.setMinimumHeight(consent_text.heightForWidth(CARD_WIDTH - 90))
        consent_row.addWidget(self.consent, 0, Qt.AlignmentFlag.AlignTop)
        consent_row.addWidget(consent_text, 1)
        card.body.addLayout(consent_row)
        self.missing = label("", "muted", wrap=True, name="loginMissing")
        card.body.addWidget(self.missing)
        phone = (self._config.get("support") or {}).get("phone") or ""
        self.support_line = label(_("Trouble logging in? Call the service phone {phone}.")
                                  .format(phone=phone) if phone else "", "muted", wrap=True,
                                  selectable=True, name="loginSupport")
        card.body.addWidget(self.support_line)  # first: shown without a parent it is a window
        self.support_line.setVisible(bool(phone))
        centred = QHBoxLayout()  # stretches, not an alignment: wrapped text keeps its height
        centred.addStretch(1)
        centred.addWidget(card)
        centred.addStretch(1)
        side.addLayout(centred)
        side.addStretch(1)
        # A short window (a laptop at 150 %) scrolls the form instead of clipping it.
        scroll = QScrollArea()
        scroll.setObjectName("loginScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(form_side)
        row.addWidget(scroll, 6)
        password_allowed = bool(self._config.get("password_login"))
        self.password_tab.setVisible(password_allowed)
        self.face_tab.clicked.connect(lambda: self._show_form(0))
        self.password_tab.clicked.connect(lambda: self._show_form(1))
        self._show_form(0)
        self._on_consent_toggled(False)

    # --- layout ---------------------------------------------------------------------------

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        """Small windows show the form alone."""
        super().resizeEvent(event)
        self.hero.setVisible(self.width() >= HERO_MIN_WINDOW_WIDTH)

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
        review = None
        if self._face_login is not None:
            from zhishiyun.auth.face_client import FaceClient

            review = FaceClient(client=self._client)
        self.face = FaceLoginWidget(self._face_login, bool(self._config.get("face_login", True)),
                                    preferred_camera=self._preferred_camera,
                                    review_client=review)
        self.face.logged_in.connect(self._on_face_logged_in)
        self.face.fallback_offered.connect(self._on_fallback)
        for field in (self.face.name, self.face.id_number):
            field.textChanged.connect(self._explain_missing)
        self.face_button = self.face.button
        self.preview = self.face.preview
        return self.face

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
        self._form_index = index
        for i, form in enumerate(self.forms):
            form.setVisible(i == index)
        if index == 0:
            self.face.activate()
        else:
            self.face.deactivate()
        self.face_tab.setChecked(index == 0)
        self.password_tab.setChecked(index == 1)
        if hasattr(self, "missing"):
            self._explain_missing()
        (self.face.name if index == 0 else self.id_number).setFocus()

    def _on_consent_toggled(self, checked: bool) -> None:
        self.face.set_allowed(checked)
        self.password_button.setEnabled(checked)
        self._explain_missing()

    def missing_text(self) -> str:
        """What the visible form still needs before its button can log in ("" when ready)."""
        if not self.consent.isChecked():
            return _("To log in, first tick the box to agree to the User Agreement and the "
                     "Privacy Policy.")
        if self._form_index == 0:
            if not self.face.available:
                return ""
            if not self.face.name.text().strip():
                return _("Enter your name.")
            if not ID_NUMBER.match(self.face.id_number.text().strip()):
                return _("Enter your 18-character ID number.")
        return ""

    def _explain_missing(self) -> None:
        text = self.missing_text()
        self.missing.setText(text)
        self.missing.setVisible(bool(text))
        for widget in (self.face_button, self.password_button):
            widget.setToolTip(text)

    def show_agreement(self, which: str) -> None:
        """Open 用户协议 or 隐私政策 as the server publishes it (fetched off the UI thread)."""
        title = _("User Agreement") if which == "user_agreement" else _("Privacy Policy")
        box = QMessageBox(QMessageBox.Icon.NoIcon, title, _("Loading…"), parent=self)
        box.setObjectName("agreementDialog")
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.open()
        self.agreement_box = box
        client = self._client

        def shown(texts: Any, error: BaseException | None) -> None:
            text = message_for(error) if error is not None else texts.get(which, "")
            try:
                box.setText(text or _("The server publishes no text for this."))
            except RuntimeError:  # closed meanwhile
                pass

        run_task(client.agreements, shown)

    def _on_fallback(self, kind: str) -> None:
        """No more face attempts: point to password login or the manual review."""
        if kind == "password" and not self.password_tab.isHidden():
            self._show_form(1)
            _error(self.password_error, _("Face login did not succeed. Log in with your ID "
                                          "number and password instead."))
        elif kind == "manual_review":
            self.face.offer_review()

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

    def _on_face_logged_in(self, login: Any) -> None:
        store = getattr(self._client, "store_login", None)
        if store is not None:
            store(login)
        self.logged_in.emit(login)

    def stop(self) -> None:
        """Release the camera if face login is running."""
        self.face.stop()

    def show_notice(self, text: str) -> None:
        """Show why the candidate is here again (e.g. the login expired) on both forms."""
        _error(self.password_error, text)
        self.face._show_error(text)

    def focus_button(self) -> QPushButton:
        """The primary button of the visible form (tests, keyboard)."""
        return self.face_button if self._form_index == 0 else self.password_button
