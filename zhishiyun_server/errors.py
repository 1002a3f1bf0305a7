"""The server's error types.

:class:`ApiProblem` is the one error a request can end with, and the JSON body it becomes
(``{"error": {code, message}}``); :class:`AdminError` is the one an admin command ends with.
"""

from __future__ import annotations

from typing import Any


class ApiProblem(Exception):
    """An error reply: HTTP status, snake_case code, English message, optional extras."""

    def __init__(self, status: int, code: str, message: str, *,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The JSON body of the reply."""
        return {"error": {"code": self.code, "message": self.message, **self.extra}}


class AdminError(Exception):
    """An admin command cannot be done; the message says why (one line).

    Here rather than in :mod:`zhishiyun_server.admin` because every feature's ``admin.py``
    raises it, and ``zhishiyun_server.admin`` imports those modules to register them.
    """


def not_found(what: str = "resource") -> ApiProblem:
    """404 for anything missing or not the caller's (the two look the same on purpose)."""
    return ApiProblem(404, "not_found", f"No such {what}.")
