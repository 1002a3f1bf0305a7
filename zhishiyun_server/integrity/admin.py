"""``zhishiyun-server admin stand-in-devices on|off``, ``integrity``, ``session-report SID``.

Registered by :func:`zhishiyun_server.admin.add_commands` through :func:`add_commands`.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

from sqlalchemy.orm import Session

from zhishiyun_server.errors import AdminError
from zhishiyun_server.integrity import settings as integrity_settings
from zhishiyun_server.integrity.report import SessionNotFound, format_report, session_report
from zhishiyun_server.models import Exam

SIGNALS = ("virtual_camera", "virtual_audio", "virtual_machine", "remote_session",
           "several_monitors")


def add_commands(sub, register: Callable) -> None:
    """Add the integrity subcommands to the admin ``sub`` parsers."""
    p = sub.add_parser("stand-in-devices",
                       help="allow or forbid a video file as camera / no or a file microphone")
    p.add_argument("state", choices=("on", "off"))
    p.add_argument("--exam", type=int, help="only for this exam (default: the organisation)")
    p = sub.add_parser("integrity", help="show or change what blocks entry and what is checked")
    p.add_argument("--exam", type=int, help="only for this exam (default: the organisation)")
    p.add_argument("--blocking-environment", metavar="LIST",
                   help=f"comma-separated, empty for none; of: {', '.join(SIGNALS)}")
    p.add_argument("--identity-at-entry", choices=integrity_settings.IDENTITY_AT_ENTRY)
    p.add_argument("--identity-interval", type=int, metavar="SECONDS",
                   help="mean seconds between identity checks during the exam (0: none)")
    p = sub.add_parser("session-report", help="integrity summary of one exam session")
    p.add_argument("session_id")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    register("stand-in-devices")(_stand_ins)
    register("integrity")(_integrity)
    register("session-report")(_report)


def _check_exam(db: Session, exam_id: int | None) -> None:
    if exam_id is not None and db.get(Exam, exam_id) is None:
        raise AdminError(f"no exam with id {exam_id}")


def _stand_ins(db: Session, args: argparse.Namespace) -> None:
    _check_exam(db, args.exam)
    integrity_settings.change(db, args.exam, stand_in_devices=args.state == "on")
    where = f"exam {args.exam}" if args.exam is not None else "the organisation"
    print(f"stand-in devices {args.state} for {where}")


def _integrity(db: Session, args: argparse.Namespace) -> None:
    _check_exam(db, args.exam)
    changes: dict = {}
    if args.blocking_environment is not None:
        kinds = [k.strip() for k in args.blocking_environment.split(",") if k.strip()]
        unknown = [k for k in kinds if k not in SIGNALS]
        if unknown:
            raise AdminError(f"unknown signal(s) {', '.join(unknown)}; use {', '.join(SIGNALS)}")
        changes["blocking_environment"] = kinds
    if args.identity_at_entry is not None:
        changes["identity_at_entry"] = args.identity_at_entry
    if args.identity_interval is not None:
        if args.identity_interval < 0:
            raise AdminError("--identity-interval must be 0 or more seconds")
        changes["identity_interval_s"] = args.identity_interval
    values = (integrity_settings.change(db, args.exam, **changes) if changes
              else integrity_settings.settings_for(db, args.exam))
    for key in ("stand_in_devices", "blocking_environment", "identity_at_entry",
                "identity_interval_s", "prohibited_grace_s", "battery_warn_percent"):
        value = values[key]
        print(f"{key}\t{', '.join(value) if isinstance(value, list) else value}")


def _report(db: Session, args: argparse.Namespace) -> None:
    try:
        report = session_report(db, args.session_id)
    except SessionNotFound:
        raise AdminError(f"no session with id {args.session_id}") from None
    print(json.dumps(report, ensure_ascii=False, indent=2) if args.json else format_report(report))
