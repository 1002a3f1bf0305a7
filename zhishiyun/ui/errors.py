"""The one function that turns an exception into a message the candidate can act on."""

from __future__ import annotations

import logging
from collections.abc import Callable

from zhishiyun.errors import ZhishiyunError
from zhishiyun.i18n import _

log = logging.getLogger(__name__)
LOGIN_LOST = ("unauthorized", "token_expired")
_login_lost_listeners: list[Callable[[str], None]] = []


def on_login_lost(listener: Callable[[str], None]) -> Callable[[], None]:
    """Call ``listener(message)`` when a reply says the login is no longer valid.

    The main window uses it to go back to the login page. Returns a function that removes
    the listener again.
    """
    _login_lost_listeners.append(listener)

    def forget() -> None:
        if listener in _login_lost_listeners:
            _login_lost_listeners.remove(listener)

    return forget


def _wait_text(seconds: float) -> str:
    seconds = max(1, int(round(seconds)))
    if seconds < 120:
        return _("{n} seconds").format(n=seconds)
    return _("{n} minutes").format(n=(seconds + 59) // 60)


def message_for(exc: BaseException) -> str:
    """An inline, translated message for ``exc`` (logged once here with its details)."""
    code = getattr(exc, "code", "")
    if code in LOGIN_LOST and isinstance(exc, ZhishiyunError):
        for listener in list(_login_lost_listeners):
            listener(exc.one_line())
    if code in ("too_many_attempts", "rate_limited"):
        retry = getattr(exc, "retry_after", None) or getattr(exc, "retry_after_s", None)
        log.info("rate limited: %s", code)
        if retry:
            return _("Too many attempts. Please wait {wait} and try again.").format(
                wait=_wait_text(float(retry)))
        return _("Too many attempts. Please wait a while and try again.")
    if isinstance(exc, ZhishiyunError):
        log.info("error shown to the candidate: %s", exc.one_line())
        return exc.one_line()
    if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
        log.warning("network problem: %r", exc)
        return _("Cannot reach the exam server. Check your network and try again.")
    log.exception("unexpected error", exc_info=exc)
    return _("Something went wrong ({name}). Please try again or contact support.").format(
        name=type(exc).__name__)
