"""Bounds for everything a client sends: ids, seq numbers, versions, times, text.

Use the annotated types in route signatures and request bodies, so that a value out of range
is a 422 ``invalid_request`` (and the bound shows in the OpenAPI document), never a database
overflow::

    def get_exam(exam_id: DbId, ...): ...
    class AnswerIn(BaseModel):
        version: Version

The edge filter (:mod:`zhishiyun_server.edge`) applies the rules that hold for every
request whatever its route: integers in JSON bodies fit 64 bits, text has no NUL and no
lone surrogate.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator, Field

from zhishiyun_server import clock

#: Largest value of a 64-bit signed integer (primary keys, byte counts).
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
#: Largest value of a 32-bit signed integer (``Integer`` columns on PostgreSQL).
INT32_MAX = 2**31 - 1
#: Highest segment number of one track of one session: 30 s segments make this about five
#: weeks of recording, far above any exam, and small enough to walk.
MAX_SEQ = 100_000
#: Manifest lines and tracks one session may hold (an exam has two or three tracks of a few
#: hundred segments each): they bound the work of verifying a session's manifest.
MAX_LINES_PER_SESSION = 20_000
MAX_TRACKS_PER_SESSION = 16
#: Times a client reports must lie within this distance of the server's clock.
TIME_WINDOW = timedelta(days=3660)
#: ASCII digits only: ``str.isdigit`` and ``int`` also accept other scripts' digits.
ASCII_INT = re.compile(r"(?:0|[1-9][0-9]{0,18})")

#: A database id in a path (``/exams/{exam_id}``): primary keys are ``Integer`` columns,
#: 32 bits on PostgreSQL.
DbId = Annotated[int, Path(ge=0, le=INT32_MAX)]
#: A segment number.
Seq = Annotated[int, Field(ge=0, le=MAX_SEQ)]
#: A version counter stored in a 32-bit column (answers).
Version = Annotated[int, Field(ge=0, le=INT32_MAX)]


def parse_ascii_int(text: str, maximum: int = INT64_MAX) -> int | None:
    """``text`` as a non-negative integer when it is canonical ASCII digits ≤ ``maximum``."""
    if not ASCII_INT.fullmatch(text):
        return None
    value = int(text)
    return value if value <= maximum else None


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text (NUL, lone surrogate), or None when it can."""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode (lone surrogate)"
    return None


def _clean_text(value: str) -> str:
    problem = text_problem(value)
    if problem:
        raise ValueError(f"text {problem}")
    return value


def _sane_time(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    now = clock.now()
    # Compared before any conversion: year 1 or 9999 with an offset leaves the calendar.
    try:
        value = value.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        raise ValueError("time is out of range") from None
    if abs(value - now) > TIME_WINDOW:
        raise ValueError("time is too far from the server's clock")
    return value


#: Text that PostgreSQL and UTF-8 can store (no NUL, no lone surrogate).
CleanText = Annotated[str, AfterValidator(_clean_text)]
#: A point in time within ``TIME_WINDOW`` of the server's clock, returned in UTC.
SaneDatetime = Annotated[datetime, AfterValidator(_sane_time)]
