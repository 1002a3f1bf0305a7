"""Uploads that keep failing for the same reason, told to the candidate with what to do.

Nothing waits silently: a refused item (a 4xx) or one that failed :data:`STUCK_ATTEMPTS`
times for the same reason (an untrusted certificate, an unreachable server) becomes one
translated line for the status bar, the finishing page and ``zhishiyun upload``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from zhishiyun.i18n import _
from zhishiyun.upload.queue import FAILED, PENDING

#: A pending item whose last attempts all failed this often counts as stuck.
STUCK_ATTEMPTS = 3
_CODE = re.compile(r'"code"\s*:\s*"([a-z_]+)"')
_STATUS = re.compile(r"\((\d{3})\)|answered (\d{3})")


def stuck_reason(items: Iterable[Any]) -> str | None:
    """The most common reason among refused or repeatedly failing items, or None."""
    reasons = Counter(i.reason for i in items if i.reason and (
        i.state == FAILED or (i.state == PENDING and i.attempts >= STUCK_ATTEMPTS)))
    return reasons.most_common(1)[0][0] if reasons else None


def describe(reason: str) -> str:
    """The candidate's line for a technical upload failure ``reason``."""
    if "certificate" in reason:
        return _("Uploads fail: this computer does not trust the exam server's certificate. "
                 "Ask your organiser for the certificate bundle (ca_bundle); your "
                 "recordings stay on this computer.")
    if "unreachable" in reason or "timed out" in reason:
        return _("Uploads wait: the exam server cannot be reached. Check the network; "
                 "uploads go on by themselves.")
    code = _CODE.search(reason)
    status = _STATUS.search(reason)
    detail = code.group(1) if code else (status.group(1) or status.group(2)) if status \
        else reason[:80]
    return _("The exam server refused an upload ({detail}). Contact support with this "
             "message; your recordings and answers stay on this computer.").format(
        detail=detail)
