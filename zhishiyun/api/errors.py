"""``ApiError``: every failure talking to the exam server, with a candidate-fit message."""

from __future__ import annotations

from typing import Any

from zhishiyun.errors import ZhishiyunError
from zhishiyun.i18n import N_, _

#: Candidate-fit messages per error code (English source; zh_CN in the catalog).
MESSAGES: dict[str, str] = {
    "network": N_("Cannot reach the exam server. Check your network connection."),
    "timeout": N_("The exam server did not answer in time. Check your network and try again."),
    "tls": N_("The server's certificate is not trusted: ask your organisation for its CA "
              "file and set it as ca_bundle."),
    "bad_reply": N_("The exam server sent an answer the client cannot read. If you are on a "
                    "hotel or campus Wi-Fi, log in to the network in a browser first."),
    "unauthorized": N_("Your login is no longer valid. Please log in again."),
    "token_expired": N_("Your login has expired. Please log in again."),
    "invalid_credentials": N_("The ID number or password is wrong."),
    "password_login_disabled": N_("Password login is not enabled. Please log in by face."),
    "too_many_attempts": N_("Too many failed attempts. Please wait {retry_after} seconds."),
    "not_found": N_("This item does not exist or is not yours."),
    "entry_not_open": N_("The entry window is not open yet. It opens at {entry_opens_at}."),
    "entry_closed": N_("The entry window closed at {entry_closes_at}."),
    "not_accepted": N_("Please read and accept the exam rules first."),
    "lottery_required": N_("Please draw your lot first."),
    "lottery_not_required": N_("This exam has no lottery."),
    "not_started": N_("The exam papers are shown from {starts_at} on."),
    "exam_finished": N_("You have already finished this exam."),
    "session_finished": N_("This exam session is finished."),
    "exam_over": N_("The time for this exam is over."),
    "stale_version": N_("A newer version of this answer is already saved."),
    "invalid_request": N_("The request was not accepted: {server_message}"),
    "invalid_phone": N_("The phone number must be 11 digits."),
    "invalid_email": N_("The e-mail address is not valid."),
    "no_release": N_("No client release is published for this system."),
    "no_photo": N_("No ID photo is on file."),
    "too_large": N_("The data sent is too large."),
    "reply_too_large": N_("The exam server sent far more data than expected; the reply was "
                          "not used. Please try again later."),
    "server_error": N_("The exam server has a problem. Please try again later."),
    "internal_error": N_("The exam server has a problem. Please try again later."),
    "unavailable": N_("The exam server is busy or under maintenance. Please try again later."),
    "no_server": N_("No exam server is configured. Ask your organisation for its address."),
}
HINTS: dict[str, str] = {
    "network": N_("Check the cable or Wi-Fi, then try again; contact support if it persists."),
    "tls": N_("Check the computer's date and time too; on a school or company network, ask "
              "IT whether HTTPS is intercepted."),
    "bad_reply": N_("Try again; if it keeps happening, contact support."),
}


class ApiError(ZhishiyunError):
    """A failed call: HTTP ``status`` (0 when no reply), ``code`` and a translated message.

    Attributes:
        status: HTTP status, or 0 when no reply arrived.
        code: the server's snake_case code, or a client code (network, timeout, tls,
            bad_reply).
        server_message: the server's own (English) message, for logs and support.
        details: extra fields of the server's error body (e.g. ``entry_opens_at``).
        retry_after: seconds to wait (429), else None.
    """

    code = "api_error"

    def __init__(self, status: int, code: str, server_message: str = "", *,
                 details: dict[str, Any] | None = None, retry_after: int | None = None) -> None:
        self.status = status
        self.server_message = server_message
        self.details = dict(details or {})
        self.retry_after = retry_after
        super().__init__(self._candidate_message(status, code), code=code,
                         hint=_(HINTS[code]) if code in HINTS else "")

    def _candidate_message(self, status: int, code: str) -> str:
        template = MESSAGES.get(code)
        if template is None:
            if status >= 500:
                template = MESSAGES["server_error"]
            elif self.server_message:
                return self.server_message
            else:
                return _("The exam server refused the request (HTTP {status}).").format(
                    status=status)
        values = {"retry_after": self.retry_after or "?", "server_message": self.server_message,
                  "status": status}
        values.update({k: _local_time(v) for k, v in self.details.items()
                       if k.endswith("_at") and isinstance(v, str)})
        try:
            return _(template).format(**values)
        except (KeyError, IndexError, ValueError):
            return _(template)

    def __reduce__(self):  # pickling across processes keeps the fields
        return (_rebuild, (self.status, self.code, self.server_message, self.details,
                           self.retry_after))

    def __repr__(self) -> str:
        return f"ApiError(status={self.status}, code={self.code!r})"


def _rebuild(status, code, server_message, details, retry_after) -> ApiError:
    return ApiError(status, code, server_message, details=details, retry_after=retry_after)


def _local_time(value: str) -> str:
    """An ISO time from the server shown in the computer's time zone, to the minute."""
    from datetime import datetime

    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if parsed.tzinfo is None:
        return value
    return parsed.astimezone().strftime("%Y-%m-%d %H:%M")
