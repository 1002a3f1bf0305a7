"""``zhishiyun-server admin …``: roster, exams, papers, releases, messages, settings.

Every command opens the same database as the server (``--db`` / ``--data``), runs in one
transaction (nothing half-done on error) and prints one line per result; errors are one
line on stderr with exit status 1.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from zhishiyun_server import releases
from zhishiyun_server.db import make_engine, make_session_factory, session_scope
from zhishiyun_server.errors import AdminError
from zhishiyun_server.migrate import upgrade
from zhishiyun_server.models import (
    Attachment,
    Candidate,
    Enrolment,
    Exam,
    Message,
    Paper,
)
from zhishiyun_server.organisation import organisation
from zhishiyun_server.roster import RosterError, import_roster, read_roster
from zhishiyun_server.security import hash_password
from zhishiyun_server.settings import default_data_dir

COMMANDS: dict[str, Callable[[Session, argparse.Namespace], None]] = {}
PAPER_TYPES = {".pdf": ("pdf", "application/pdf"), ".png": ("image", "image/png"),
               ".jpg": ("image", "image/jpeg"), ".jpeg": ("image", "image/jpeg"),
               ".txt": ("text", "text/plain; charset=utf-8")}


def _command(name: str):
    def register(func):
        COMMANDS[name] = func
        return func
    return register


def _when(text: str) -> datetime:
    """ISO 8601 time; without an offset it is Beijing time (+08:00)."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time like 2026-06-01T09:00+08:00") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone(timedelta(hours=8)))


def add_commands(parser: argparse.ArgumentParser) -> None:
    """Register the admin subcommands on ``parser``."""
    sub = parser.add_subparsers(dest="admin_command", metavar="COMMAND", required=True)

    p = sub.add_parser("import-candidates", help="import or update candidates from a CSV roster")
    p.add_argument("csv", type=Path,
                   help="UTF-8 CSV with a header: name,id_number,phone,photo[,email]; "
                        "photo is a JPEG path relative to the CSV")

    p = sub.add_parser("create-exam", help="create a written exam or an interview")
    p.add_argument("--name", required=True)
    p.add_argument("--kind", choices=("written", "interview"), required=True)
    p.add_argument("--entry-opens", type=_when, required=True, metavar="TIME")
    p.add_argument("--entry-closes", type=_when, required=True, metavar="TIME")
    p.add_argument("--starts", type=_when, required=True, metavar="TIME",
                   help="ISO 8601; without an offset: Beijing time")
    p.add_argument("--duration-min", type=int, required=True)
    p.add_argument("--lottery", action="store_true", help="candidates draw a lot first")
    p.add_argument("--second-camera", action="store_true", help="a second camera is required")
    p.add_argument("--rules-file", type=Path, help="UTF-8 text of the rules to accept")
    p.add_argument("--enrol-all", action="store_true", help="enrol every candidate")

    p = sub.add_parser("enrol", help="put candidates on an exam's roster")
    p.add_argument("--exam", type=int, required=True)
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--all", action="store_true")
    group.add_argument("--id-number", nargs="+", default=[])

    for name, what in (("add-paper", "a paper (PDF, PNG/JPEG or .txt), shown from the start"),
                       ("add-attachment", "an attachment candidates may read before")):
        p = sub.add_parser(name, help=f"add {what}")
        p.add_argument("--exam", type=int, required=True)
        p.add_argument("file", type=Path)
        p.add_argument("--title", default="")
        if name == "add-paper":
            p.add_argument("--position", type=int, default=None)

    p = sub.add_parser("generate-release-key", help="create an Ed25519 key pair for releases")
    p.add_argument("--out", type=Path, required=True, help="private key file (PEM) to write")

    p = sub.add_parser("publish-release", help="publish a signed client release")
    p.add_argument("--platform", required=True, choices=releases.PLATFORMS)
    p.add_argument("--version", required=True)
    p.add_argument("--minimum", required=True, help="oldest version still allowed")
    p.add_argument("--url", required=True, help="where clients download the installer")
    p.add_argument("--file", type=Path, required=True, help="the installer (size and sha256)")
    p.add_argument("--key", type=Path, required=True, help="Ed25519 private key (PEM)")
    p.add_argument("--notes", default="")
    p.add_argument("--valid-days", type=float, default=releases.DEFAULT_VALID_DAYS,
                   help="days the signed manifest stays valid (publish again before)")

    p = sub.add_parser("send-message", help="send a message to candidates")
    p.add_argument("--title", required=True)
    p.add_argument("--body", required=True)
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--all", action="store_true")
    group.add_argument("--id-number", nargs="+", default=[])

    p = sub.add_parser("password-login", help="allow or forbid password login")
    p.add_argument("state", choices=("on", "off"))

    p = sub.add_parser("set-password", help="set a candidate's password (read from stdin)")
    p.add_argument("--id-number", required=True)

    p = sub.add_parser("set-org", help="organisation name and support contacts")
    for option in ("name", "support-phone", "support-qq", "support-email", "support-hours"):
        p.add_argument(f"--{option}")
    p.add_argument("--ntp-servers", help="comma-separated host names")
    p.add_argument("--local-retention-days", type=float, metavar="DAYS",
                   help="days clients keep a session's files after the server has them all")

    sub.add_parser("list-exams", help="list exams with their windows")
    from zhishiyun_server.face.admin import add_commands as add_face_commands  # face reviews
    add_face_commands(sub, _command)
    from zhishiyun_server.review.admin import add_commands as add_review_commands  # staff
    add_review_commands(sub, _command)
    from zhishiyun_server.integrity.admin import add_commands as add_integrity  # stand-ins, report
    add_integrity(sub, _command)
    from zhishiyun_server.instruction import add_commands as add_instruction  # spoken
    add_instruction(sub, _command)


def _exam(db: Session, exam_id: int) -> Exam:
    exam = db.get(Exam, exam_id)
    if exam is None:
        raise AdminError(f"no exam with id {exam_id} (see: admin list-exams)")
    return exam


def _people(db: Session, everyone: bool, id_numbers: list[str]) -> list[Candidate]:
    if everyone:
        people = list(db.scalars(select(Candidate).order_by(Candidate.id)))
        if not people:
            raise AdminError("there are no candidates yet (import a roster first)")
        return people
    people = []
    for number in id_numbers:
        person = db.scalar(select(Candidate).where(Candidate.id_number == number.upper()))
        if person is None:
            raise AdminError(f"no candidate with ID number {number}")
        people.append(person)
    return people


def _read(path: Path, limit: int = 100 * 1024 * 1024) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AdminError(f"{path}: {exc.strerror}") from None
    if len(data) > limit:
        raise AdminError(f"{path}: larger than {limit // (1024 * 1024)} MB")
    return data


@_command("import-candidates")
def _import(db: Session, args: argparse.Namespace) -> None:
    result = import_roster(db, read_roster(args.csv))
    print(f"imported {result.created} new and updated {result.updated} candidate(s)")


@_command("create-exam")
def _create_exam(db: Session, args: argparse.Namespace) -> None:
    if not args.entry_opens < args.entry_closes:
        raise AdminError("--entry-opens must be before --entry-closes")
    if args.duration_min <= 0:
        raise AdminError("--duration-min must be positive")
    rules = _read(args.rules_file).decode("utf-8", "replace") if args.rules_file else ""
    exam = Exam(name=args.name, kind=args.kind, entry_opens_at=args.entry_opens,
                entry_closes_at=args.entry_closes, starts_at=args.starts,
                duration_s=args.duration_min * 60, lottery_required=args.lottery,
                requires_second_camera=args.second_camera, rules=rules)
    db.add(exam)
    db.flush()
    if args.enrol_all:
        for person in db.scalars(select(Candidate)):
            db.add(Enrolment(exam_id=exam.id, candidate_id=person.id))
    print(f"created exam {exam.id}: {exam.name}")


@_command("enrol")
def _enrol(db: Session, args: argparse.Namespace) -> None:
    exam = _exam(db, args.exam)
    added = 0
    for person in _people(db, args.all, args.id_number):
        exists = db.scalar(select(Enrolment).where(Enrolment.exam_id == exam.id,
                                                   Enrolment.candidate_id == person.id))
        if exists is None:
            db.add(Enrolment(exam_id=exam.id, candidate_id=person.id))
            added += 1
    print(f"enrolled {added} candidate(s) on exam {exam.id}")


@_command("add-paper")
def _add_paper(db: Session, args: argparse.Namespace) -> None:
    exam = _exam(db, args.exam)
    kind_type = PAPER_TYPES.get(args.file.suffix.lower())
    if kind_type is None:
        raise AdminError(f"{args.file}: papers must be .pdf, .png, .jpg or .txt")
    data = _read(args.file)
    if kind_type[0] == "pdf" and not data.startswith(b"%PDF-"):
        raise AdminError(f"{args.file}: not a PDF file")
    if kind_type[0] == "text":
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise AdminError(f"{args.file}: text papers must be UTF-8") from None
    position = args.position
    if position is None:
        position = len(db.scalars(select(Paper.id).where(Paper.exam_id == exam.id)).all())
    paper = Paper(exam_id=exam.id, position=position, kind=kind_type[0],
                  title=args.title or args.file.stem, filename=args.file.name,
                  content_type=kind_type[1], content=data)
    db.add(paper)
    db.flush()
    print(f"added paper {paper.id} ({paper.kind}) to exam {exam.id}")


@_command("add-attachment")
def _add_attachment(db: Session, args: argparse.Namespace) -> None:
    import mimetypes

    exam = _exam(db, args.exam)
    data = _read(args.file)
    content_type = mimetypes.guess_type(args.file.name)[0] or "application/octet-stream"
    row = Attachment(exam_id=exam.id, filename=args.title or args.file.name,
                     content_type=content_type, content=data)
    db.add(row)
    db.flush()
    print(f"added attachment {row.id} to exam {exam.id}")


@_command("generate-release-key")
def _generate_key(db: Session, args: argparse.Namespace) -> None:
    public = releases.generate_key(args.out)
    print(f"wrote {args.out}; public key (base64, raw Ed25519): {public}")


@_command("publish-release")
def _publish(db: Session, args: argparse.Namespace) -> None:
    try:
        row = releases.publish(db, platform=args.platform, version=args.version,
                               minimum=args.minimum, url=args.url, file=args.file, key=args.key,
                               notes=args.notes, valid_days=args.valid_days)
    except releases.ReleaseError as exc:
        raise AdminError(str(exc)) from None
    print(f"published {row.platform} {row.version} (minimum {row.minimum_version}), "
          f"sha256 {row.sha256}")


@_command("send-message")
def _send(db: Session, args: argparse.Namespace) -> None:
    people = _people(db, args.all, args.id_number)
    for person in people:
        db.add(Message(candidate_id=person.id, title=args.title, body=args.body))
    print(f"sent to {len(people)} candidate(s)")


@_command("password-login")
def _password_login(db: Session, args: argparse.Namespace) -> None:
    organisation(db, commit=False).password_login = args.state == "on"
    print(f"password login {args.state}")


@_command("set-password")
def _set_password(db: Session, args: argparse.Namespace) -> None:
    person = _people(db, False, [args.id_number])[0]
    if sys.stdin.isatty():
        password = getpass.getpass("New password: ")
        if getpass.getpass("Again: ") != password:
            raise AdminError("the two passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < 8:
        raise AdminError("the password must have at least 8 characters")
    person.password_hash = hash_password(password)
    print(f"password set for candidate {person.id}")


@_command("set-org")
def _set_org(db: Session, args: argparse.Namespace) -> None:
    org = organisation(db, commit=False)
    for field in ("name", "support_phone", "support_qq", "support_email", "support_hours"):
        value = getattr(args, field)
        if value is not None:
            setattr(org, field, value)
    if args.ntp_servers is not None:
        org.ntp_servers = [h.strip() for h in args.ntp_servers.split(",") if h.strip()]
    if args.local_retention_days is not None:
        if not 0 <= args.local_retention_days <= 3650:
            raise AdminError("--local-retention-days must be between 0 and 3650")
        org.local_retention_days = args.local_retention_days
    print(f"organisation: {org.name}")


@_command("list-exams")
def _list(db: Session, args: argparse.Namespace) -> None:
    for exam in db.scalars(select(Exam).order_by(Exam.starts_at)):
        print(f"{exam.id}\t{exam.kind}\t{exam.entry_opens_at.isoformat()} .. "
              f"{exam.entry_closes_at.isoformat()}\tstarts {exam.starts_at.isoformat()}\t"
              f"{exam.name}")


def run(args: argparse.Namespace) -> int:
    """Run the admin command in ``args``; 0 on success, 1 with one line on stderr."""
    data = args.data or default_data_dir()
    data.mkdir(parents=True, exist_ok=True)
    try:
        engine = make_engine(args.db or f"sqlite:///{data / 'server.db'}")
    except (SQLAlchemyError, ValueError) as exc:
        print(f"error: cannot use the database URL: {exc}", file=sys.stderr)
        return 1
    try:
        upgrade(engine)
        with session_scope(make_session_factory(engine)) as db:
            COMMANDS[args.admin_command](db, args)
    except RosterError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except AdminError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        print(f"error: database: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return 0
