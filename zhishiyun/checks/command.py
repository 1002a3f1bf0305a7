"""``zhishiyun check --headless [--json|--junit FILE] [--only ID,…] [--server URL]``.

Prints a table (or JSON), optionally writes JUnit XML, and exits 0 when every check passed
or warned, 1 when one failed, 2 on bad usage (e.g. a server check asked for with no server).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from zhishiyun.checks import (
    ALL_CHECK_IDS,
    SERVER_CHECK_IDS,
    CheckContext,
    CheckRunner,
    create_checks,
)
from zhishiyun.checks.report import to_json, to_table, write_junit
from zhishiyun.config import Settings
from zhishiyun.i18n import _

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the checks headless and report them; returns the exit code."""
    only = getattr(args, "only", None)
    ids = list(only) if only else list(ALL_CHECK_IDS)
    if only and not settings.server_url:
        needing = [i for i in ids if i in SERVER_CHECK_IDS]
        if needing:
            print("zhishiyun: error: " + _(
                "the {ids} check needs a server: pass --server URL or set server_url").format(
                ids=", ".join(needing)), file=sys.stderr)
            return EXIT_USAGE
    context = CheckContext(settings)
    runner = CheckRunner(create_checks(ids), context)
    report = runner.run()
    try:
        print(to_json(report) if getattr(args, "json", False) else to_table(report), flush=True)
    except BrokenPipeError:  # piped into head & co.: the exit code still tells the result
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    junit = getattr(args, "junit", None)
    if junit:
        path = Path(junit)
        try:
            write_junit(report, path)
        except OSError as exc:
            print("zhishiyun: error: " + _("cannot write {path}: {error}").format(
                path=path, error=exc.strerror or exc), file=sys.stderr)
            return EXIT_USAGE
    return EXIT_OK if report.ok else EXIT_FAILED
