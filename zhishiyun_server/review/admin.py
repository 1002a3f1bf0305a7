"""``zhishiyun-server admin add-staff | audit-log | help-list | help-reply``.

Registered by :func:`zhishiyun_server.admin.add_commands` through :func:`add_commands`.
Passwords are asked twice on a terminal, or read as one line from stdin (scripts, tests).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from zhishiyun_server import clock
from zhishiyun_server.errors import AdminError, ApiProblem
from zhishiyun_server.help import service as help_service
from zhishiyun_server.help.models import HelpRequest
from zhishiyun_server.review import auth
from zhishiyun_server.review.models import ROLES, AuditEntry


def add_commands(sub, register: Callable) -> None:
    """Add the review console's subcommands to the admin ``sub`` parsers."""
    p = sub.add_parser("add-staff", help="create a review console account (or reset it)")
    p.add_argument("--name", required=True)
    p.add_argument("--role", choices=ROLES, required=True)
    p = sub.add_parser("audit-log", help="what staff did in the review console")
    p.add_argument("--limit", type=int, default=100, help="newest entries (100)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p = sub.add_parser("help-list", help="求助 requests (all, or those without a reply)")
    p.add_argument("--open", action="store_true", help="only those without a reply yet")
    p = sub.add_parser("help-reply", help="answer a 求助 request (shown in the exam window)")
    p.add_argument("request_id", type=int)
    p.add_argument("--text", required=True)
    p.add_argument("--by", default="", help="staff name (default: the system user)")
    register("add-staff")(_add_staff)
    register("audit-log")(_audit_log)
    register("help-list")(_help_list)
    register("help-reply")(_help_reply)


def _password() -> str:
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise AdminError("the two passwords differ")
        return password
    return sys.stdin.readline().rstrip("\r\n")


def _add_staff(db: Session, args: argparse.Namespace) -> None:
    try:
        account = auth.add_staff(db, args.name, args.role, _password())
    except ValueError as exc:
        raise AdminError(str(exc)) from None
    auth.audit(db, None, _system_user(), "add_staff", account.name, role=account.role)
    print(f"staff account {account.name} ({account.role}) ready; log in at /review/")


def _audit_log(db: Session, args: argparse.Namespace) -> None:
    rows = db.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())
                      .limit(max(1, args.limit))).all()
    for row in reversed(rows):
        if args.json:
            print(json.dumps({"at": clock.iso(row.at), "staff": row.staff_name,
                              "action": row.action, "target": row.target,
                              "address": row.address, "details": row.details},
                             ensure_ascii=False))
        else:
            print(f"{clock.iso(row.at)}\t{row.staff_name}\t{row.action}\t{row.target}\t"
                  f"{row.address}")


def _help_list(db: Session, args: argparse.Namespace) -> None:
    for request in db.scalars(select(HelpRequest).order_by(HelpRequest.id)):
        if args.open and request.replies:
            continue
        print(f"{request.id}\t{clock.iso(request.created_at)}\t{request.session_id}\t"
              f"{len(request.replies)} reply(ies)\t{request.text}")


def _help_reply(db: Session, args: argparse.Namespace) -> None:
    by = args.by.strip() or _system_user()
    request = db.get(HelpRequest, args.request_id)
    if request is None:
        raise AdminError(f"no help request {args.request_id} (see: admin help-list)")
    auth.audit(db, None, by, "help_reply", request.session_id, help_request=request.id)
    try:
        help_service.reply(db, request.id, args.text, by)
    except ApiProblem as exc:
        raise AdminError(exc.message) from None
    print(f"replied to help request {request.id}")


def _system_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "admin"
