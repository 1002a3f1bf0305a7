"""``python -m zhishiyun.platform``: print what this computer's probes say, as JSON."""

from __future__ import annotations

import dataclasses
import json
import sys

from zhishiyun.platform import current


def main() -> int:
    """Run every probe once (keep-awake is taken and released at once) and print JSON."""
    platform = current()
    with platform.keep_awake("platform probe") as status:
        keep_awake = dataclasses.asdict(status)
    report = {
        "platform": platform.name,
        "virtual_machine": dataclasses.asdict(platform.virtual_machine()),
        "remote_session": dataclasses.asdict(platform.remote_session()),
        "power": dataclasses.asdict(platform.power()),
        "keep_awake": keep_awake,
    }
    json.dump(report, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
