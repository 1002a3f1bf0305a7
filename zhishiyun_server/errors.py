"""The server's one error type and the JSON body it becomes: ``{"error": {code, message}}``."""

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


def not_found(what: str = "resource") -> ApiProblem:
    """404 for anything missing or not the caller's (the two look the same on purpose)."""
    return ApiProblem(404, "not_found", f"No such {what}.")
