"""CI: print the video encoder a benchmark's JSON output names; exit 1 if it names none.

Usage: python .github/scripts/encoder_of.py OUTPUT.json (the benchmark's stdout: one JSON
document, or lines whose last JSON line is read).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def encoders(value, path=""):
    """Every ``encoder`` entry in a nested JSON value, with where it was found."""
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else key
            if key == "encoder":
                yield where, item
            else:
                yield from encoders(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from encoders(item, f"{path}[{index}]")


def last_json(text: str):
    """The whole output as JSON, else its last line that is JSON (None if none is)."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    for line in reversed(text.splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return None


def main() -> int:
    """Print the encoders found; 1 when there is none."""
    result = last_json(Path(sys.argv[1]).read_text(encoding="utf-8", errors="replace"))
    found = [(where, value) for where, value in encoders(result) if value]
    for where, value in found:
        print(f"encoder chosen ({where}): {json.dumps(value, ensure_ascii=False)}")
    if not found:
        print("the benchmark output names no encoder", file=sys.stderr)
    return 0 if found else 1


if __name__ == "__main__":
    sys.exit(main())
