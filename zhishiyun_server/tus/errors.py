"""The one refusal type of the tus endpoint."""

from __future__ import annotations


class TusError(Exception):
    """A refusal with an HTTP status, a snake_case code and a message."""

    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}
