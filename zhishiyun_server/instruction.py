"""The organisation's spoken instruction for an exam (the manual's 指导语 at the start).

``zhishiyun-server admin set-instruction --exam ID FILE`` stores one audio file per exam
(MP3, M4A, Ogg or WAV, recognised by its content, at most :data:`MAX_BYTES`); ``--remove``
takes it away. The exam's JSON then carries ``instruction`` (its URL, size and sha256) and
candidates on the exam's roster download it from ``GET /exams/{id}/instruction``.
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from fastapi import APIRouter, Depends, Response
from sqlalchemy import ForeignKey, Integer, LargeBinary, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from zhishiyun_server import clock
from zhishiyun_server.db import Base, UTCDateTime
from zhishiyun_server.deps import current_candidate, get_db
from zhishiyun_server.errors import AdminError, not_found
from zhishiyun_server.models import Candidate, Enrolment, Exam
from zhishiyun_server.schemas import InstructionInfo
from zhishiyun_server.validation import DbId

router = APIRouter(tags=["exams"])
#: A few minutes of speech; enough for any spoken instruction, small for a download.
MAX_BYTES = 20 * 1024 * 1024
#: Extension → the content type served; the bytes must match the kind (see :func:`audio_type`).
AUDIO_TYPES = {".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".ogg": "audio/ogg",
               ".wav": "audio/wav"}


class ExamInstruction(Base):
    """One exam's spoken instruction (the audio bytes and their digest)."""

    __tablename__ = "exam_instructions"

    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"),
                                         primary_key=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


def audio_type(name: str, data: bytes) -> str:
    """The content type of an instruction file, or :class:`AdminError` saying what is wrong.

    The extension names the kind and the first bytes must be that kind's signature, so a
    renamed document or video is refused rather than served as sound.
    """
    suffix = Path(name).suffix.lower()
    if suffix not in AUDIO_TYPES:
        raise AdminError(f"{name}: the instruction must be .mp3, .m4a, .ogg or .wav")
    head = data[:12]
    matches = {
        ".mp3": head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF
                                           and head[1] & 0xE0 == 0xE0),
        ".m4a": head[4:8] == b"ftyp",
        ".ogg": head.startswith(b"OggS"),
        ".wav": head.startswith(b"RIFF") and head[8:12] == b"WAVE",
    }[suffix]
    if not matches:
        raise AdminError(f"{name}: not a {suffix[1:].upper()} audio file")
    return AUDIO_TYPES[suffix]


def instruction_info(db: Session, exam_id: int) -> InstructionInfo | None:
    """What ``GET /exams`` says of the exam's instruction (None when it has none)."""
    row = db.execute(select(ExamInstruction.filename, ExamInstruction.content_type,
                            ExamInstruction.size, ExamInstruction.sha256)
                     .where(ExamInstruction.exam_id == exam_id)).first()
    if row is None:
        return None
    filename, content_type, size, sha256 = row
    return InstructionInfo(filename=filename, content_type=content_type, size=size,
                           sha256=sha256, url=f"/api/v1/exams/{exam_id}/instruction")


@router.get("/exams/{exam_id}/instruction", response_class=Response,
            responses={200: {"content": {"audio/mpeg": {}}}})
def download_instruction(exam_id: DbId, candidate: Candidate = Depends(current_candidate),
                         db: Session = Depends(get_db)) -> Response:
    """The spoken instruction of one of my exams."""
    enrolled = db.scalar(select(Enrolment.id).where(Enrolment.exam_id == exam_id,
                                                    Enrolment.candidate_id == candidate.id))
    row = db.get(ExamInstruction, exam_id) if enrolled is not None else None
    if row is None:
        raise not_found("instruction")
    return Response(row.content, media_type=row.content_type,
                    headers={"X-Content-SHA256": row.sha256})


# --- admin ------------------------------------------------------------------------------

def add_commands(sub, register: Callable) -> None:
    """Add ``set-instruction`` to the admin ``sub`` parsers."""
    p = sub.add_parser("set-instruction",
                       help="the spoken instruction played at the start of an exam")
    p.add_argument("--exam", type=int, required=True)
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("file", type=Path, nargs="?",
                       help=f".mp3, .m4a, .ogg or .wav, at most {MAX_BYTES // 2**20} MB")
    group.add_argument("--remove", action="store_true", help="take the instruction away")
    register("set-instruction")(_set_instruction)


def _set_instruction(db: Session, args: argparse.Namespace) -> None:
    exam = db.get(Exam, args.exam)
    if exam is None:
        raise AdminError(f"no exam with id {args.exam} (see: admin list-exams)")
    row = db.get(ExamInstruction, exam.id)
    if args.remove:
        if row is not None:
            db.delete(row)
        print(f"exam {exam.id} has no spoken instruction now")
        return
    data = _read(args.file)
    content_type = audio_type(args.file.name, data)
    if row is None:
        row = ExamInstruction(exam_id=exam.id)
        db.add(row)
    row.filename, row.content_type, row.content = args.file.name, content_type, data
    row.size, row.sha256, row.set_at = len(data), hashlib.sha256(data).hexdigest(), clock.now()
    db.flush()
    print(f"spoken instruction for exam {exam.id}: {args.file.name} ({len(data)} bytes)")


def _read(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise AdminError(f"{path}: larger than {MAX_BYTES // 2**20} MB")
        if size == 0:
            raise AdminError(f"{path}: the file is empty")
        return path.read_bytes()
    except OSError as exc:
        raise AdminError(f"{path}: {exc.strerror}") from None
