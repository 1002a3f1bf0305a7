"""Candidate roster import from CSV: every row checked first, then all or nothing."""

from __future__ import annotations

import csv
import io
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from zhishiyun_server.models import Candidate

log = logging.getLogger(__name__)
REQUIRED = ("name", "id_number")
KNOWN = ("name", "id_number", "phone", "photo", "email")
PHONE = re.compile(r"^1[3-9]\d{9}$")
MAX_PHOTO_BYTES = 5 * 1024 * 1024
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


class RosterError(Exception):
    """The roster has problems; ``problems`` lists them as ``line N: …``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the roster; nothing was imported")
        self.problems = problems


def valid_id_number(value: str) -> bool:
    """An 18-character resident ID number with a correct check character (GB 11643)."""
    if not re.fullmatch(r"\d{17}[\dX]", value):
        return False
    total = sum(int(d) * w for d, w in zip(value[:17], _WEIGHTS, strict=True))
    return "10X98765432"[total % 11] == value[17]


@dataclass
class RosterRow:
    """One checked row."""

    line: int
    name: str
    id_number: str
    phone: str = ""
    email: str = ""
    photo: bytes | None = None


@dataclass
class ImportResult:
    """What an import changed."""

    created: int = 0
    updated: int = 0
    ids: list[int] = field(default_factory=list)


def read_roster(path: Path) -> list[RosterRow]:
    """Read and check every row of ``path``; raise :class:`RosterError` listing all problems.

    Columns (header row, any order): name, id_number, phone, photo (a JPEG path relative to
    the CSV file), email. UTF-8, with or without BOM.
    """
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise RosterError([f"{path}: cannot be read ({exc.strerror})"]) from None
    except UnicodeDecodeError:
        raise RosterError([f"{path}: not UTF-8 text (save the roster as CSV UTF-8)"]) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise RosterError([f"line 1: missing column(s) {', '.join(missing)} "
                           f"(expected: {', '.join(KNOWN)})"])
    problems: list[str] = []
    rows: list[RosterRow] = []
    seen: dict[str, int] = {}
    for raw in reader:
        line = reader.line_num
        values = {(k or "").strip(): (v or "").strip() if isinstance(v, str) else ""
                  for k, v in raw.items()}
        row_problems = []
        name, id_number = values.get("name", ""), values.get("id_number", "").upper()
        if not name:
            row_problems.append("name is empty")
        elif len(name) > 100:
            row_problems.append("name is longer than 100 characters")
        if not valid_id_number(id_number):
            row_problems.append(f"id_number {id_number!r} is not a valid 18-character ID number")
        elif id_number in seen:
            row_problems.append(f"id_number repeats line {seen[id_number]}")
        phone = values.get("phone", "")
        if phone and not PHONE.match(phone):
            row_problems.append(f"phone {phone!r} is not an 11-digit mobile number")
        photo = None
        if values.get("photo"):
            photo, problem = _read_photo(path.parent, values["photo"])
            if problem:
                row_problems.append(problem)
        problems += [f"line {line}: {p}" for p in row_problems]
        if not row_problems:
            seen[id_number] = line
            rows.append(RosterRow(line, name, id_number, phone, values.get("email", ""), photo))
    if problems:
        raise RosterError(problems)
    if not rows:
        raise RosterError([f"{path}: no candidate rows"])
    return rows


def _read_photo(base: Path, name: str) -> tuple[bytes | None, str]:
    target = (base / name).resolve()
    try:
        data = target.read_bytes()
    except OSError as exc:
        return None, f"photo {name!r} cannot be read ({exc.strerror})"
    if len(data) > MAX_PHOTO_BYTES:
        return None, f"photo {name!r} is larger than 5 MB"
    if not data.startswith(b"\xff\xd8"):
        return None, f"photo {name!r} is not a JPEG file"
    return data, ""


def import_roster(db: Session, rows: list[RosterRow]) -> ImportResult:
    """Create or update candidates from checked rows (caller commits; enrols faces)."""
    result = ImportResult()
    for row in rows:
        candidate = db.scalar(select(Candidate).where(Candidate.id_number == row.id_number))
        if candidate is None:
            candidate = Candidate(name=row.name, id_number=row.id_number)
            db.add(candidate)
            result.created += 1
        else:
            result.updated += 1
        candidate.name = row.name
        candidate.phone = row.phone or candidate.phone or ""
        candidate.email = row.email or candidate.email or ""
        if row.photo is not None:
            candidate.photo_jpeg = row.photo
            candidate.face_embedding = None
            enrol_face(candidate)
        db.flush()
        result.ids.append(candidate.id)
    return result


def enrol_face(candidate: Candidate) -> None:
    """Compute the face embedding of the candidate's photo when face login is installed."""
    try:
        from zhishiyun_server.face.enrol import enrol_candidate
    except ImportError:  # face login not installed on this server
        return
    try:
        enrol_candidate(candidate)
    except Exception:  # noqa: BLE001 - a photo problem must not stop the import
        log.warning("face enrolment failed for candidate %s", candidate.id, exc_info=True)
