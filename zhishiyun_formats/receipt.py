"""The answer receipt: a short code of the answers, the same on both sides.

After 交卷 the client shows the code of the answers it handed in; the server computes it
from the answers it holds (in the finish reply), so the two can be compared by the
candidate, the client and staff. Empty answers do not count (they are never sent).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping


def answers_receipt(answers: Mapping[str, str]) -> str:
    """``XXXX-XXXX``: the first 32 bits of SHA-256 over the non-empty answers, sorted."""
    held = sorted((str(q), str(text)) for q, text in answers.items() if text)
    canonical = json.dumps(held, ensure_ascii=False, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest().upper()
    return f"{digest[:4]}-{digest[4:8]}"
