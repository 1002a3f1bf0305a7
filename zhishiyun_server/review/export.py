"""The evidence export of one session: a ZIP with a SHA-256 list of every file in it.

Layout::

    session.json          who, which exam, entered / finished, verdicts
    manifest.jsonl        the manifest lines exactly as received, by track and seq
    segments/<track>/<seq:06d>.mp4
    events.json, help.json
    answers.json          per question: the answer taken and every version saved
    report.json           the integrity summary (see :mod:`zhishiyun_server.review.summary`)
    SHA256SUMS            "<sha256>  <path>" per file above (``sha256sum -c`` checks it)
"""

from __future__ import annotations

import hashlib
import json
import uuid
import zipfile
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from zhishiyun_server import clock
from zhishiyun_server.help import service as help_service
from zhishiyun_server.models import Event, ExamSession, RecordingSegment
from zhishiyun_server.recordings import ManifestLine
from zhishiyun_server.review import answers_view
from zhishiyun_server.review.media import cache_dir
from zhishiyun_server.review.models import Verdict
from zhishiyun_server.review.summary import integrity_summary
from zhishiyun_server.tus.storage import UploadStorage


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=1, default=str).encode("utf-8")


def build_export(db: Session, storage: UploadStorage, data_dir: Path,
                 session: ExamSession) -> Path:
    """Write the session's export ZIP to a temporary file and return its path."""
    path = cache_dir(data_dir, session.id) / f".export-{uuid.uuid4().hex}.zip"
    sums: list[str] = []
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        def add(name: str, data: bytes) -> None:
            archive.writestr(name, data)
            sums.append(f"{hashlib.sha256(data).hexdigest()}  {name}")

        verdicts = db.scalars(select(Verdict).where(Verdict.session_id == session.id)
                              .order_by(Verdict.id)).all()
        add("session.json", _json({
            "session_id": session.id, "exam": {"id": session.exam_id, "name": session.exam.name},
            "candidate": {"name": session.candidate.name,
                          "id_number": session.candidate.id_number},
            "entered_at": clock.iso(session.entered_at),
            "finished_at": clock.iso(session.finished_at),
            "finish_reason": session.finish_reason, "exported_at": clock.iso(clock.now()),
            "verdicts": [{"verdict": v.verdict, "notes": v.notes, "by": v.staff_name,
                          "at": clock.iso(v.decided_at)} for v in verdicts]}))
        lines = db.scalars(select(ManifestLine).where(ManifestLine.session_id == session.id)
                           .order_by(ManifestLine.track, ManifestLine.seq)).all()
        add("manifest.jsonl", "".join(row.line + "\n" for row in lines).encode("utf-8"))
        segments = db.scalars(select(RecordingSegment).where(
            RecordingSegment.session_id == session.id)
            .order_by(RecordingSegment.track, RecordingSegment.seq)).all()
        for segment in segments:
            name = f"segments/{segment.track}/{segment.seq:06d}.mp4"
            digest = hashlib.sha256()
            with storage.open(segment.storage_key) as source, \
                    archive.open(zipfile.ZipInfo(name), "w", force_zip64=True) as target:
                while block := source.read(1 << 20):
                    digest.update(block)
                    target.write(block)
            sums.append(f"{digest.hexdigest()}  {name}")
        events = db.scalars(select(Event).where(Event.session_id == session.id)
                            .order_by(Event.at, Event.id)).all()
        add("events.json", _json([{"id": e.client_event_id, "kind": e.kind,
                                   "at": clock.iso(e.at), "received_at": clock.iso(e.received_at),
                                   "details": e.details} for e in events]))
        add("answers.json", _json(answers_view.export_rows(
            answers_view.answer_history(db, session))))
        add("help.json", _json([{**help_service.public(r),
                                 "replies": [{"text": x.text, "by": x.staff_name,
                                              "at": clock.iso(x.created_at)}
                                             for x in r.replies]}
                                for r in help_service.requests_of(db, session.id)]))
        add("report.json", _json(integrity_summary(db, session)))
        archive.writestr("SHA256SUMS", "\n".join(sums) + "\n")
    return path
