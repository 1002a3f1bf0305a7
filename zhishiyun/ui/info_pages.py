"""Message centre, personal information and support centre."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from zhishiyun.i18n import _
from zhishiyun.ui.errors import message_for
from zhishiyun.ui.model import get, local_text
from zhishiyun.ui.qt import (
    QApplication,
    QFont,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    Qt,
    QTextBrowser,
    QWidget,
    Signal,
)
from zhishiyun.ui.style import set_variant
from zhishiyun.ui.tasks import run_task
from zhishiyun.ui.widgets import CardWidget, PageWidget, button, label

PHONE = re.compile(r"^\+?[\d\- ]{5,20}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class MessagesWidget(PageWidget):
    """Messages, newest first; opening one marks it read. Emits ``unread_changed(n)``."""

    unread_changed = Signal(int)

    def __init__(self, client: Any, parent: QWidget | None = None) -> None:
        super().__init__(_("Message centre"), parent)
        self._client = client
        self._messages: list[Any] = []
        self.refresh_button = button(_("Refresh"))
        self.refresh_button.clicked.connect(self.refresh)
        self.title_row.addWidget(self.refresh_button)
        self.status = label("", "muted", wrap=True)
        self.content.addWidget(self.status)
        row = QHBoxLayout()
        self.list = QListWidget()
        self.list.setObjectName("messageList")
        self.list.setMinimumWidth(320)
        self.list.currentRowChanged.connect(self._on_current_row_changed)
        self.reader = QTextBrowser()
        self.reader.setObjectName("messageBody")
        self.reader.setMinimumHeight(360)
        row.addWidget(self.list, 2)
        row.addWidget(self.reader, 3)
        self.content.addLayout(row, 1)

    def refresh(self) -> None:
        """Reload the messages."""
        client = self._client
        run_task(client.messages, self._on_loaded)

    def unread(self) -> int:
        """How many messages are unread."""
        return sum(1 for m in self._messages if not get(m, "read"))

    def _on_loaded(self, reply: Any, error: BaseException | None) -> None:
        if error is not None:
            self.status.setText(message_for(error))
            set_variant(self.status, "role", "error")
            return
        self._messages = list(get(reply, "messages", reply) or [])
        self.status.setText("" if self._messages else _("No messages."))
        self.status.setVisible(not self._messages)
        self.list.blockSignals(True)
        self.list.clear()
        for message in self._messages:
            item = QListWidgetItem()
            self._render_item(item, message)
            self.list.addItem(item)
        self.list.blockSignals(False)
        hint = _escape(_("Choose a message on the left to read it."))
        self.reader.setHtml(f"<p style='color:#6b7385'>{hint}</p>")
        self.unread_changed.emit(self.unread())

    def _render_item(self, item: QListWidgetItem, message: Any) -> None:
        unread = not get(message, "read")
        marker = "● " if unread else ""
        item.setText(f"{marker}{get(message, 'title')}\n{local_text(get(message, 'sent_at'))}")
        font = QFont(self.list.font())
        font.setBold(unread)
        item.setFont(font)
        item.setData(Qt.ItemDataRole.UserRole, "unread" if unread else "read")

    def _on_current_row_changed(self, row: int) -> None:
        if row < 0 or row >= len(self._messages):
            return
        message = self._messages[row]
        self.reader.setHtml(
            f"<h3>{_escape(get(message, 'title'))}</h3>"
            f"<p style='color:#6b7385'>{local_text(get(message, 'sent_at'))}</p>"
            f"<p>{_escape(get(message, 'body')).replace(chr(10), '<br>')}</p>")
        if get(message, "read"):
            return
        client, message_id = self._client, get(message, "id")
        run_task(lambda: client.read_message(message_id),
                 lambda _r, error: self._on_marked(row, error))

    def _on_marked(self, row: int, error: BaseException | None) -> None:
        if error is not None:
            self.status.setText(message_for(error))
            return
        message = self._messages[row]
        if isinstance(message, dict):
            message["read"] = True
        else:  # replies are immutable models
            self._messages[row] = message.model_copy(update={"read": True})
        self._render_item(self.list.item(row), self._messages[row])
        self.unread_changed.emit(self.unread())


def stored_text(held: list) -> str:
    """One line per exam session this computer holds: size, segments, upload state."""
    if not held:
        return _("No exam recordings are stored on this computer.")
    lines = [_("{total} MB in {n} exam session(s):").format(
        total=f"{sum(h.bytes for h in held) / 1e6:.1f}", n=len(held))]
    for item in held:
        name = item.exam_name or item.session_id[:8]
        if item.confirmed and item.delete_at is not None:
            when = datetime.fromtimestamp(item.delete_at).strftime("%Y-%m-%d %H:%M")
            state = _("uploaded; deleted from this computer after {when}").format(when=when)
        elif item.confirmed:
            state = _("uploaded")
        else:
            state = _("not all uploaded yet; kept until the server has everything")
        lines.append(_("{exam}: {mb} MB, {segments} segment(s), {state}").format(
            exam=name, mb=f"{item.bytes / 1e6:.1f}", segments=item.segments, state=state))
    return "\n".join(lines)


def _escape(text: Any) -> str:
    return (str(text or "").replace("&", "&amp;").replace("<", "&lt;")
            .replace(">", "&gt;"))


class ProfileWidget(PageWidget):
    """个人信息: name and masked ID (read only), phone and email (editable)."""

    profile_changed = Signal(object)

    def __init__(self, client: Any, parent: QWidget | None = None) -> None:
        super().__init__(_("Personal information"), parent)
        self._client = client
        card = CardWidget(margins=28)
        card.setMaximumWidth(640)
        form = QFormLayout()
        form.setVerticalSpacing(14)
        form.setHorizontalSpacing(20)
        self.name = label("", selectable=True)
        self.id_number = label("", selectable=True)
        self.phone = QLineEdit()
        self.phone.setObjectName("phone")
        self.email = QLineEdit()
        self.email.setObjectName("email")
        form.addRow(_("Name"), self.name)
        form.addRow(_("ID number"), self.id_number)
        form.addRow(_("Phone"), self.phone)
        form.addRow(_("Email"), self.email)
        card.body.addLayout(form)
        card.body.addWidget(label(_("Keep these up to date so that support staff can reach you "
                                    "quickly during the exam."), "muted", wrap=True))
        self.status = label("", "muted", wrap=True, name="profileStatus")
        card.body.addWidget(self.status)
        row = QHBoxLayout()
        row.addStretch(1)
        self.save_button = button(_("Save"), "primary", name="saveProfile")
        self.save_button.clicked.connect(self._on_save_clicked)
        row.addWidget(self.save_button)
        card.body.addLayout(row)
        self.content.addWidget(card)
        self.content.addStretch(1)

    def refresh(self) -> None:
        """Load the profile."""
        run_task(self._client.me, self._on_loaded)

    def _on_loaded(self, profile: Any, error: BaseException | None) -> None:
        if error is not None:
            self._say(message_for(error), "error")
            return
        self.name.setText(get(profile, "name", ""))
        self.id_number.setText(get(profile, "id_number_masked", ""))
        self.phone.setText(get(profile, "phone", "") or "")
        self.email.setText(get(profile, "email", "") or "")
        self.profile_changed.emit(profile)

    def _on_save_clicked(self) -> None:
        phone, email = self.phone.text().strip(), self.email.text().strip()
        if phone and not PHONE.match(phone):
            self._say(_("The phone number does not look right."), "error")
            self.phone.setFocus()
            return
        if email and not EMAIL.match(email):
            self._say(_("The email address does not look right."), "error")
            self.email.setFocus()
            return
        self.save_button.setEnabled(False)
        self._say(_("Saving…"), "muted")
        client = self._client
        run_task(lambda: client.update_me(phone=phone, email=email), self._on_saved)

    def _on_saved(self, profile: Any, error: BaseException | None) -> None:
        self.save_button.setEnabled(True)
        if error is not None:
            self._say(message_for(error), "error")
            return
        self._on_loaded(profile, None)
        self._say(_("Saved."), "ok")

    def _say(self, text: str, role: str) -> None:
        self.status.setText(text)
        set_variant(self.status, "role", role)


class SupportWidget(PageWidget):
    """客服中心: phone, QQ and email from the server's config, each copyable.

    ``holdings()`` (optional, blocking): what this computer holds per exam session
    (:class:`zhishiyun.exam.retention.LocalSession` items), listed under the contacts.
    """

    def __init__(self, server_config: dict, parent: QWidget | None = None,
                 holdings: Callable[[], list] | None = None) -> None:
        super().__init__(_("Support centre"), parent)
        self._holdings = holdings
        support = get(server_config, "support") or {}
        card = CardWidget(margins=28)
        card.setMaximumWidth(720)
        card.body.addWidget(label(_("If anything goes wrong before or during the exam, "
                                    "contact us:"), "muted", wrap=True))
        self.copied = label("", "ok", name="copied")
        rows = [(_("Phone"), get(support, "phone")), (_("QQ"), get(support, "qq")),
                (_("Email"), get(support, "email")), (_("Service hours"),
                                                      get(support, "hours"))]
        form = QFormLayout()
        form.setVerticalSpacing(14)
        form.setHorizontalSpacing(20)
        for name, value in rows:
            if not value:
                continue
            line = QHBoxLayout()
            line.addWidget(label(str(value), "subtitle", selectable=True))
            copy = button(_("Copy"), "link")
            copy.clicked.connect(lambda _c=False, v=str(value): self._on_copy_clicked(v))
            line.addWidget(copy)
            line.addStretch(1)
            form.addRow(label(name, "muted"), line)
        if not any(v for _n, v in rows):
            card.body.addWidget(label(_("This server publishes no support contacts."),
                                      "muted"))
        card.body.addLayout(form)
        card.body.addWidget(self.copied)
        self.content.addWidget(card)
        self.stored = label("", "muted", wrap=True, selectable=True, name="storedHere")
        if holdings is not None:
            stored_card = CardWidget(margins=28)
            stored_card.setMaximumWidth(720)
            stored_card.body.addWidget(label(_("Stored on this computer"), "subtitle"))
            stored_card.body.addWidget(self.stored)
            self.content.addWidget(stored_card)
        self.content.addStretch(1)

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        """Count what this computer holds each time the page is shown."""
        super().showEvent(event)
        self.refresh_holdings()

    def refresh_holdings(self) -> None:
        """Read the local recordings off the UI thread and list them."""
        if self._holdings is not None:
            run_task(self._holdings, self._on_holdings)

    def _on_holdings(self, held: Any, error: BaseException | None) -> None:
        if error is not None:
            self.stored.setText(message_for(error))
            return
        self.stored.setText(stored_text(held or []))

    def _on_copy_clicked(self, value: str) -> None:
        QApplication.clipboard().setText(value)
        self.copied.setText(_("Copied: {value}").format(value=value))


def flow_steps() -> list[tuple[str, str]]:
    """考试流程: the manual's steps, as (title, what the candidate does)."""
    return [
        (_("System check"), _("Zhishiyun checks the server connection, the software version "
                              "and the clock, then camera, microphone, disk and network. "
                              "Every required check must pass.")),
        (_("Login"), _("Face login with your name and ID number; if it fails, password login "
                       "where the organiser allows it, or a manual review.")),
        (_("Device test"), _("Record 10 seconds with the camera and microphone you will use "
                             "and play them back; the exam records with the same devices.")),
        (_("My exams"), _("Draw your lot (interviews only) and press Read and accept for each "
                          "exam.")),
        (_("Enter the exam"), _("Once the entry window is open, press Enter exam. Recording "
                                "starts; interviews first confirm the devices, and a second "
                                "camera (the phone) is bound with the QR code.")),
        (_("During the exam"), _("Answer in the boxes (written exams) or follow the "
                                 "interview. Use Help to ask the organiser; their messages "
                                 "appear at the top.")),
        (_("Hand in"), _("Submit answers (written exams) or End exam (interviews). Keep "
                         "Zhishiyun open until every recording is uploaded.")),
    ]


class FlowWidget(PageWidget):
    """考试流程: checks → login → device test → my exams → enter → hand in."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(_("Exam flow"), parent)
        self.steps = []
        for number, (title, text) in enumerate(flow_steps(), start=1):
            card = CardWidget(margins=18)
            card.setMaximumWidth(820)
            card.body.addWidget(label(_("Step {n}: {title}").format(n=number, title=title),
                                      "subtitle"))
            card.body.addWidget(label(text, "muted", wrap=True))
            self.content.addWidget(card)
            self.steps.append(card)
        self.content.addStretch(1)
