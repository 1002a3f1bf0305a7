"""Queued API operations: what the upload queue stores, turned into requests here.

The queue names what to do ("put answer q3 v7", "post events", "post manifest lines",
"finish") with the server and the session; only this module knows the URLs. Rows written by
older versions carried a URL instead: :func:`parse_legacy` reads such a URL back into an
operation so they are converted when the queue opens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from zhishiyun.api.client import API

#: operation → (HTTP method, path under ``/api/v1`` with ``{session_id}`` and args).
OPERATIONS: dict[str, tuple[str, str]] = {
    "put_answer": ("PUT", "/sessions/{session_id}/answers/{question_id}"),
    "post_events": ("POST", "/sessions/{session_id}/events"),
    "post_manifest": ("POST", "/sessions/{session_id}/manifest"),
    "finish": ("POST", "/sessions/{session_id}/finish"),
}
_LEGACY = re.compile(rf"^(?P<server>https?://[^/]+(?:/.*?)?){re.escape(API)}/sessions/"
                     r"(?P<session_id>[^/?#]+)/(?:answers/(?P<question_id>[^/?#]+)|"
                     r"(?P<what>events|manifest|finish))/?$")


class UnknownOperation(ValueError):
    """A queue row names an operation this client does not know."""


@dataclass(frozen=True)
class Request:
    """An operation resolved to an HTTP request."""

    method: str
    url: str


def request_for(operation: str, server: str, session_id: str,
                args: dict[str, Any] | None = None) -> Request:
    """The request that performs ``operation`` for ``session_id`` on ``server``.

    Raises:
        UnknownOperation: the name or its arguments are not known.
    """
    try:
        method, template = OPERATIONS[operation]
    except KeyError:
        raise UnknownOperation(f"unknown operation {operation!r}") from None
    values = {k: quote(str(v), safe="") for k, v in (args or {}).items()}
    values["session_id"] = quote(str(session_id), safe="")
    try:
        path = template.format(**values)
    except (KeyError, IndexError) as exc:
        raise UnknownOperation(f"{operation}: missing argument {exc}") from None
    return Request(method, server.rstrip("/") + API + path)


def server_root(api_url: str) -> str:
    """``https://h/api/v1`` → ``https://h`` (a server root is left as it is)."""
    api_url = api_url.rstrip("/")
    return api_url[: -len(API)] if api_url.endswith(API) else api_url


def parse_legacy(url: str) -> tuple[str, str, dict[str, Any]] | None:
    """``(server, operation, args)`` for a URL an older queue row stored, else None."""
    match = _LEGACY.match(url or "")
    if match is None:
        return None
    if match["question_id"] is not None:
        return match["server"], "put_answer", {"question_id": unquote(match["question_id"])}
    operation = {"events": "post_events", "manifest": "post_manifest",
                 "finish": "finish"}[match["what"]]
    return match["server"], operation, {}
