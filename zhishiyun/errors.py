"""The one base exception of the client.

Every error a candidate or support engineer may see derives from :class:`ZhishiyunError`.
``message`` is already translated into the current language; ``hint`` tells what to do.
The CLI prints ``message`` (and ``hint``) on one line; the UI maps it to a message in one place.
"""

from __future__ import annotations


class ZhishiyunError(Exception):
    """A failure with a message fit for the person in front of the screen."""

    #: Stable, machine-readable code (snake_case); tests and logs use it.
    code = "error"

    def __init__(self, message: str, *, hint: str = "", code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if code is not None:
            self.code = code

    def one_line(self) -> str:
        """The message and the hint on one line, as the CLI prints it."""
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(ZhishiyunError):
    """A setting cannot be used (the app falls back to the next layer where it can)."""

    code = "config_error"


class NotBuiltError(ZhishiyunError):
    """A part of the client that this build does not include yet."""

    code = "not_built"
