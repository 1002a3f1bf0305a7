"""Missing segment numbers as ranges: work bounded by what arrived, not by the numbers in it.

``missing_ranges({0, 1, 5}, top=7)`` is ``[[2, 4], [6, 7]]``: it walks the received numbers
(sorted), never every number up to ``top``. :func:`missing_list` spells the first
:data:`MAX_LISTED` of them out for replies that promise a list.
"""

from __future__ import annotations

from collections.abc import Iterable

#: Most seq numbers a ``missing`` list names; ``missing_ranges`` covers all of them.
MAX_LISTED = 1000


def missing_ranges(received: Iterable[int], top: int) -> list[list[int]]:
    """Inclusive ``[first, last]`` ranges of 0..``top`` that are not in ``received``."""
    ranges: list[list[int]] = []
    expected = 0
    for seq in sorted({s for s in received if 0 <= s <= top}):
        if seq > expected:
            ranges.append([expected, seq - 1])
        expected = seq + 1
    if expected <= top:
        ranges.append([expected, top])
    return ranges


def missing_count(ranges: list[list[int]]) -> int:
    """How many numbers the ranges cover."""
    return sum(last - first + 1 for first, last in ranges)


def missing_list(ranges: list[list[int]], limit: int = MAX_LISTED) -> list[int]:
    """The first ``limit`` missing numbers, in order."""
    listed: list[int] = []
    for first, last in ranges:
        listed.extend(range(first, min(last, first + limit - len(listed) - 1) + 1))
        if len(listed) >= limit:
            break
    return listed
