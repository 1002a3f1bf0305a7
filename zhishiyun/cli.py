"""Command line: the composition root for headless use (QA, support, CI).

Each subcommand names the module that runs it (``module:function``, called with the parsed
arguments and the effective :class:`~zhishiyun.config.Settings`, returning an exit code).
Modules are imported only when their subcommand runs, so ``--help`` stays fast and a part
that is not in this build says so in one line (exit 2) instead of faking success.

Exit codes: 0 success (checks: all pass/warn), 1 failure, 2 bad usage or not available.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from collections.abc import Sequence

from zhishiyun import __version__, i18n, paths
from zhishiyun.config import LANGUAGES, LOG_LEVELS, Settings, load_settings
from zhishiyun.errors import ZhishiyunError
from zhishiyun.log import setup_logging

log = logging.getLogger(__name__)
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
CHECK_IDS = ("server", "version", "clock", "disk", "memory", "os", "camera", "microphone",
             "display", "processes", "bandwidth")

HANDLERS = {
    "gui": "zhishiyun.ui.app:run",
    "check": "zhishiyun.checks.command:run",
    "devices": "zhishiyun.capture.command:run_devices",
    "record": "zhishiyun.capture.command:run_record",
    "upload": "zhishiyun.exam.recover:run_upload",  # recovery first, then the uploads
    "exam": "zhishiyun.exam.headless:run",
    "demo": "zhishiyun.demo:run",
    "config": "zhishiyun.cli:run_config",
    "diagnose": "zhishiyun.diagnose:run",
}


def _check_ids(text: str) -> list[str]:
    ids = [i.strip() for i in text.split(",") if i.strip()]
    unknown = [i for i in ids if i not in CHECK_IDS]
    if unknown or not ids:
        raise argparse.ArgumentTypeError(
            f"unknown check id(s): {', '.join(unknown) or '(none)'}; known: {', '.join(CHECK_IDS)}"
        )
    return ids


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (English help)."""
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    common.add_argument("--server", metavar="URL", help="exam server base URL")
    common.add_argument("--language", choices=LANGUAGES, help="language of messages")
    common.add_argument("--data-dir", metavar="DIR", help="recordings, queue and logs")
    common.add_argument("--log-level", type=str.upper, choices=LOG_LEVELS, help="file log level")
    common.add_argument("--ca-bundle", metavar="PEM", help="extra CA bundle to trust")

    parser = argparse.ArgumentParser(
        prog="zhishiyun",
        description="Zhishiyun desktop proctoring client. Without a command, opens the GUI.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"zhishiyun {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    sub.add_parser("gui", parents=[common], help="open the candidate GUI (the default)")

    check = sub.add_parser("check", parents=[common], help="run the pre-exam system checks")
    check.add_argument("--headless", action="store_true", help="run without the GUI")
    out = check.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print results as JSON")
    out.add_argument("--junit", metavar="FILE", help="also write JUnit XML to FILE")
    check.add_argument("--only", type=_check_ids, metavar="ID,…",
                       help=f"run only these checks ({','.join(CHECK_IDS)})")
    check.add_argument("--camera", metavar="INDEX|FILE",
                       help="test this camera instead of the one chosen on this computer")
    check.add_argument("--mic", metavar="NAME|none",
                       help="test this microphone instead of the one chosen on this computer")

    devices = sub.add_parser("devices", parents=[common],
                             help="list cameras, microphones and screens")
    devices.add_argument("--json", action="store_true", help="print as JSON")

    record = sub.add_parser("record", parents=[common], help="record screen + camera + audio")
    record.add_argument("--out", required=True, metavar="DIR", help="output directory")
    record.add_argument("--seconds", required=True, type=_positive_float, metavar="N")
    record.add_argument("--camera", metavar="INDEX|FILE", help="camera index or a video file")
    record.add_argument("--mic", metavar="NAME|none", help="microphone name, or none")
    record.add_argument("--no-screen", action="store_true", help="do not record the screen")

    upload = sub.add_parser("upload", parents=[common], help="resume every pending upload")
    upload.add_argument("--wait", action="store_true", help="wait until all are uploaded")

    exam = sub.add_parser("exam", parents=[common], help="take an exam without the GUI (QA)")
    exam_sub = exam.add_subparsers(dest="exam_command", metavar="ACTION", required=True)
    exam_run = exam_sub.add_parser(
        "run", parents=[common], help="log in, enter, record N seconds, answer, finish, upload",
        description="Exit 0: everything reached the server; 1: something is still pending "
                    "(`zhishiyun upload` resumes it) or the exam could not be run; 2: bad usage.")
    exam_run.add_argument("--id-number", required=True, metavar="ID", help="candidate ID number")
    exam_run.add_argument("--password-stdin", action="store_true", required=True,
                          help="read the password from the first line of stdin")
    exam_run.add_argument("--exam", required=True, metavar="ID|next",
                          help="exam id, or next: the first exam whose entry window is open")
    exam_run.add_argument("--accept-rules", action="store_true",
                          help="accept the exam's rules on the candidate's behalf")
    exam_run.add_argument("--seconds", required=True, type=_positive_float, metavar="N",
                          help="how long to record")
    exam_run.add_argument("--answers", metavar="FILE.json",
                          help='answers saved halfway through: {"question id": "text"}')
    exam_run.add_argument("--camera", metavar="INDEX|FILE",
                          help="camera index or a video file (default: the one chosen on "
                               "this computer, as the app's exam records with)")
    exam_run.add_argument("--mic", metavar="NAME|none",
                          help="microphone name, or none (default: the one chosen on this "
                               "computer)")
    exam_run.add_argument("--no-screen", action="store_true", help="do not record the screen")
    exam_run.add_argument("--upload-timeout", type=_positive_float, default=120.0, metavar="S",
                          help="how long to wait at the end for the server to have everything")

    demo = sub.add_parser("demo", parents=[common],
                          help="start the reference server with demo data and the GUI against it")
    demo.add_argument("--headless", action="store_true",
                      help="no GUI: checks, login, a short recording and its upload")

    config = sub.add_parser("config", parents=[common], help="show the effective settings")
    config.add_argument("action", choices=["show"], help="show: settings and their source")
    config.add_argument("--json", action="store_true", help="print as JSON")

    diagnose = sub.add_parser("diagnose", parents=[common],
                              help="write a zip of logs, check results and config for support")
    diagnose.add_argument("--out", metavar="FILE", help="zip file to write")
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Effective settings with the command line as the top layer."""
    # Common options may come before or after the subcommand; argparse leaves them unset
    # (SUPPRESS) where they were not given, so neither position overwrites the other.
    given = vars(args)
    return load_settings({
        "server_url": given.get("server"),
        "language": given.get("language"),
        "data_dir": given.get("data_dir"),
        "log_level": given.get("log_level"),
        "ca_bundle": given.get("ca_bundle"),
        "camera": given.get("camera"),  # check, record and exam run: over the saved choice
        "microphone": given.get("mic"),
    })


def run_config(args: argparse.Namespace, settings: Settings) -> int:
    """``zhishiyun config show``: each setting, its value (secrets masked) and its layer."""
    rows = settings.describe()
    if args.json:
        print(json.dumps({"settings": rows, "problems": settings.problems,
                          "system_file": str(paths.system_config_file()),
                          "user_file": str(paths.user_config_file())},
                         ensure_ascii=False, indent=2))
        return EXIT_OK
    width = max(len(r["key"]) for r in rows)
    for row in rows:
        print(f"{row['key']:<{width}}  {row['value'] or '(empty)'}    [{row['source']}]")
    return EXIT_OK


def _resolve(target: str):
    module_name, func_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            return None
        raise
    return getattr(module, func_name, None)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, set up settings, language and logs, run the command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    command = args.command or "gui"
    try:
        settings = settings_from_args(args)
    except ZhishiyunError as exc:
        print(f"zhishiyun: error: {exc.one_line()}", file=sys.stderr)
        return EXIT_USAGE
    i18n.set_language(settings.language)
    setup_logging(paths.logs_dir(settings.data_path), settings.log_level,
                  console_level="ERROR" if command == "gui" else "WARNING")
    for problem in settings.problems:
        print(f"zhishiyun: warning: {problem}", file=sys.stderr)
        log.warning("settings: %s", problem)
    handler = _resolve(HANDLERS[command])
    if handler is None:
        print(f"zhishiyun: '{command}' is not available in this build yet", file=sys.stderr)
        return EXIT_USAGE
    try:
        return int(handler(args, settings) or 0)
    except ZhishiyunError as exc:
        log.error("%s failed: %s", command, exc.one_line(), extra={"console": False})
        print(f"zhishiyun: error: {exc.one_line()}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("zhishiyun: interrupted", file=sys.stderr)
        return 130
