"""Wire-level helpers of the API client: reply parsing, error bodies, file names."""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any, TypeVar
from urllib.parse import quote

import requests
from pydantic import BaseModel, ValidationError

from zhishiyun.api.errors import ApiError

T = TypeVar("T", bound=BaseModel)


def _load_json(content: bytes) -> Any:
    try:
        return json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        preview = content[:80].decode("utf-8", "replace")
        raise ApiError(200, "bad_reply", f"not JSON: {preview!r}") from exc


def parse_reply(content: bytes, model: type[T]) -> T:
    """Parse a JSON body into ``model``; anything else is ``ApiError('bad_reply')``."""
    data = _load_json(content)
    if not isinstance(data, dict):
        raise ApiError(200, "bad_reply", f"expected an object, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except (ValidationError, ValueError, TypeError, RecursionError) as exc:
        raise ApiError(200, "bad_reply", _short(exc)) from exc


def parse_list(content: bytes, model: type[T]) -> list[T]:
    """Parse a JSON array of ``model`` objects (``bad_reply`` otherwise)."""
    data = _load_json(content)
    if not isinstance(data, list):
        raise ApiError(200, "bad_reply", f"expected a list, got {type(data).__name__}")
    try:
        return [model.model_validate(item) for item in data]
    except (ValidationError, ValueError, TypeError, RecursionError) as exc:
        raise ApiError(200, "bad_reply", _short(exc)) from exc


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def _error_fields(response: requests.Response) -> tuple[str | None, str, dict[str, Any]]:
    """``(code, message, details)`` from an error body; code None when it is not ours."""
    try:
        data = json.loads(response.content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None, "", {}
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("code"), str):
        return None, "", {}
    code = error["code"] if re.fullmatch(r"[a-z][a-z0-9_]{0,63}", error["code"]) else None
    message = error.get("message") if isinstance(error.get("message"), str) else ""
    details = {k: v for k, v in error.items() if k not in ("code", "message")
               and isinstance(v, (str, int, float, bool))}
    return code, message, details


def path_segment(value: str) -> str:
    """``value`` quoted as one URL path segment (``/`` and ``?`` included)."""
    return quote(str(value), safe="")


_UNSAFE = re.compile(r"[\x00-\x1f\x7f<>:\"/\\|?*]")
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
             *(f"LPT{i}" for i in range(1, 10))}


def safe_text(text: str, *, control: str = " ") -> str:
    """Text from the server made safe to show: no control or bidirectional-override marks.

    A name like ``invoice\u202egpj.exe`` would otherwise show as ``invoiceexe.jpg``.
    Format characters (Unicode Cf: bidi overrides and isolates, zero-width marks),
    surrogates and unassigned code points are removed; controls (Cc) become ``control``.
    """
    out = []
    for char in unicodedata.normalize("NFC", str(text)):
        category = unicodedata.category(char)
        if category == "Cc":
            out.append(control)
        elif category not in ("Cf", "Cs", "Co", "Cn"):
            out.append(char)
    return "".join(out)


def safe_filename(name: str, *, fallback: str = "file") -> str:
    """A file name from the server made safe to write.

    No directories, ``..``, control or bidirectional-override characters, or
    Windows-reserved names; at most 120 characters.
    """
    name = safe_text(name, control="_").replace("\\", "/").split("/")[-1]
    name = _UNSAFE.sub("_", name).strip(" .")
    if not name or name.split(".")[0].upper() in _RESERVED:
        name = f"{fallback}_{name}" if name else fallback
    if len(name) > 120:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 120 - len(ext) - 1] + "." + ext) if dot and len(ext) < 10 else name[:120]
    return name
