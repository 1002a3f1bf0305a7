"""During the exam: the organiser's new messages and the replies to 求助.

:class:`ExamLiveFeed` polls ``GET /messages`` and the session's help requests off the UI
thread (the pool of short polls) and shows what is new as banners in the exam window.
:class:`HelpDialog` is 求助: the support contacts, a text box that sends a help request
to the organisation, and the requests with their replies.
"""

from __future__ import annotations

import logging
from typing import Any

from zhishiyun.i18n import _
from zhishiyun.ui.errors import message_for
from zhishiyun.ui.model import get
from zhishiyun.ui.qt import (
    QDialog,
    QHBoxLayout,
    QPlainTextEdit,
    QTextBrowser,
    QTimer,
    QVBoxLayout,
    QWidget,
)
from zhishiyun.ui.tasks import run_quick
from zhishiyun.ui.widgets import button, label

log = logging.getLogger(__name__)
POLL_MS = 15_000
MAX_HELP_TEXT = 2000


def _local_time(value: Any) -> str:
    try:
        return value.astimezone().strftime("%H:%M")
    except (AttributeError, ValueError):
        return str(value or "")[11:16]


class ExamLiveFeed:
    """New organiser messages and help replies as banners of ``window`` (an ExamWindow).

    Messages already there at entry are not repeated (they were in the message centre);
    each new one is shown once. Replies are shown in the banner and in the 求助 dialog.
    """

    def __init__(self, window: Any, poll_ms: int = POLL_MS) -> None:
        self.window = window
        self.client = window.session.client
        self.seen_messages: set[int] | None = None
        self.seen_replies: set[int] = set()
        self.requests: list[dict] = []
        self._busy = False
        self.timer = QTimer(window)
        self.timer.setInterval(poll_ms)
        self.timer.timeout.connect(self.poll)

    def start(self) -> None:
        """Poll now and then every ``poll_ms``."""
        self.timer.start()
        self.poll()

    def stop(self) -> None:
        """Stop polling."""
        self.timer.stop()

    def poll(self) -> None:
        """Read messages and help requests (off the UI thread)."""
        if self._busy:
            return
        self._busy = True
        client, session = self.client, self.window.session

        def read() -> tuple[Any, Any]:
            messages = client.messages().messages
            requests = (client.help_requests(session.session_id)
                        if session.session_id else [])
            return messages, requests

        run_quick(read, self._on_read)

    def _on_read(self, result: Any, error: BaseException | None) -> None:
        self._busy = False
        if error is not None:
            log.info("exam feed not read: %s", error)
            return
        messages, requests = result
        ids = {int(get(m, "id")) for m in messages}
        if self.seen_messages is None:  # at entry: what is there is not news
            self.seen_messages = ids
        for message in messages:
            message_id = int(get(message, "id"))
            if message_id in self.seen_messages:
                continue
            self.seen_messages.add(message_id)
            text = _("Message from the organiser ({time}): {title} — {body}").format(
                time=_local_time(get(message, "sent_at")), title=get(message, "title", ""),
                body=get(message, "body", ""))
            self.window.banners.show_banner(f"message_{message_id}", text, "blue")
        self.set_requests(requests)

    def set_requests(self, requests: list[dict]) -> None:
        """Take the session's help requests; new replies become a banner."""
        self.requests = list(requests)
        for request in self.requests:
            for reply in request.get("replies", []):
                reply_id = int(reply.get("id", 0))
                if reply_id in self.seen_replies:
                    continue
                self.seen_replies.add(reply_id)
                self.window.banners.show_banner(
                    "help_reply", _("Reply to your help request: {text}").format(
                        text=reply.get("text", "")), "blue")
        dialog = getattr(self.window, "help_box", None)
        if isinstance(dialog, HelpDialog):
            dialog.show_requests(self.requests)


class HelpDialog(QDialog):
    """求助: support contacts, a help request to the organisation, and the replies."""

    def __init__(self, contacts: str, client: Any, session_id: str | None,
                 feed: ExamLiveFeed | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("helpDialog")
        self.setWindowTitle(_("Help"))
        self.setMinimumWidth(420)
        self._contacts = contacts
        self._client = client
        self._session_id = session_id
        self._feed = feed
        box = QVBoxLayout(self)
        box.addWidget(label(contacts, "muted", wrap=True, selectable=True, name="helpContacts"))
        self.history = QTextBrowser()
        self.history.setObjectName("helpHistory")
        self.history.setMinimumHeight(120)
        box.addWidget(self.history, 1)
        self.text_box = QPlainTextEdit()
        self.text_box.setObjectName("helpText")
        self.text_box.setPlaceholderText(_("Describe the problem; the organisation's staff "
                                           "answer here."))
        self.text_box.setMaximumHeight(90)
        box.addWidget(self.text_box)
        self.state = label("", "muted", wrap=True, name="helpState")
        box.addWidget(self.state)
        row = QHBoxLayout()
        row.addStretch(1)
        self.close_button = button(_("Close"), name="helpClose")
        self.close_button.clicked.connect(self.close)
        self.send_button = button(_("Send help request"), "primary", name="helpSend")
        self.send_button.clicked.connect(self.send)
        row.addWidget(self.close_button)
        row.addWidget(self.send_button)
        box.addLayout(row)
        available = bool(session_id and client is not None)
        self.text_box.setEnabled(available)
        self.send_button.setEnabled(available)
        if not available:
            self.state.setText(_("Help requests can be sent once the exam is entered."))
        self.show_requests(feed.requests if feed is not None else [])

    def text(self) -> str:
        """The support contacts shown (as the plain message box had them)."""
        return self._contacts

    def show_requests(self, requests: list[dict]) -> None:
        """List the requests sent from this session and the staff's replies."""
        lines = []
        for request in requests:
            lines.append(_("You ({time}): {text}").format(
                time=_local_time_text(request.get("created_at")), text=request.get("text")))
            for reply in request.get("replies", []):
                lines.append("    " + _("Staff ({time}): {text}").format(
                    time=_local_time_text(reply.get("created_at")), text=reply.get("text")))
            if not request.get("replies"):
                lines.append("    " + _("Waiting for a reply…"))
        self.history.setPlainText("\n".join(lines) or _("No help requests yet."))
        self.history.setVisible(True)

    def send(self) -> None:
        """Send the typed request (off the UI thread)."""
        text = self.text_box.toPlainText().strip()
        if not text:
            self.state.setText(_("Type what the problem is first."))
            return
        if len(text) > MAX_HELP_TEXT:
            self.state.setText(_("At most {n} characters, please.").format(n=MAX_HELP_TEXT))
            return
        self.send_button.setEnabled(False)
        self.state.setText(_("Sending…"))
        client, session_id = self._client, self._session_id
        run_quick(lambda: (client.send_help(session_id, text),
                           client.help_requests(session_id)), self._on_sent)

    def _on_sent(self, result: Any, error: BaseException | None) -> None:
        self.send_button.setEnabled(True)
        if error is not None:
            self.state.setText(_("Not sent: {error}").format(error=message_for(error)))
            return
        self.text_box.clear()
        self.state.setText(_("Sent. The reply appears here and at the top of the exam "
                             "window."))
        _sent, requests = result
        if self._feed is not None:
            self._feed.set_requests(requests)
        else:
            self.show_requests(requests)


def _local_time_text(value: Any) -> str:
    """``HH:MM`` local time of an ISO timestamp string (as the help API sends them)."""
    from datetime import datetime

    try:
        return datetime.fromisoformat(str(value)).astimezone().strftime("%H:%M")
    except ValueError:
        return str(value or "")
