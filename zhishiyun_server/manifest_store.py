"""Manifest lines as stored: verified on arrival, chained in place, summarised per track.

A line's own facts (its hash, ``prev``, MAC, form) are computed once, when it arrives
(:func:`line_facts`), and stored with it. Linking a new line needs only its two
neighbours in its track (:func:`insert_line`, one query and one insert, Core statements),
and the verification of the whole session comes from one grouped query over small columns
(:func:`track_summaries`) while every track is complete and verifies; only a track with a
gap, a forged or re-chained line, or a malformed line anywhere needs its rows read
(``recordings.verification_of``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    bindparam,
)
from sqlalchemy import text as sql
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column

from zhishiyun_formats.manifest import (
    ManifestVerification,
    TrackVerification,
    canonical_bytes,
    parse_record,
)
from zhishiyun_server import clock
from zhishiyun_server.db import Base, UTCDateTime


class ManifestLine(Base):
    """One line of a session's manifest, exactly as the client wrote it."""

    __tablename__ = "manifest_lines"
    __table_args__ = (UniqueConstraint("session_id", "track", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("exam_sessions.id", ondelete="CASCADE"), index=True)
    track: Mapped[str] = mapped_column(String(16))
    seq: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    line: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    # What verifying the line found, stored on arrival so that a session's verification
    # never re-reads and re-MACs its whole manifest (NULL: not verified yet, see
    # recordings._backfill).
    line_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    mac_ok: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    #: ``prev`` names the line before it (the nearest well-formed lower seq of its track).
    prev_ok: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    well_formed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)


def line_facts(text: str, key: bytes) -> dict:
    """``line_hash``, ``prev_hash``, ``mac_ok`` and ``well_formed`` of one line's text."""
    data = text.encode("utf-8").rstrip(b"\r\n")
    facts = {"line_hash": hashlib.sha256(data).hexdigest(), "prev_hash": None,
             "mac_ok": False, "well_formed": False}
    try:
        record = parse_record(data)
    except ValueError:
        return facts
    prev = record.get("prev", None)
    mac = record.get("mac")
    expected = hmac.new(key, canonical_bytes({k: v for k, v in record.items() if k != "mac"}),
                        hashlib.sha256).hexdigest()
    facts.update(well_formed=True,
                 prev_hash=prev if isinstance(prev, str) and len(prev) <= 64 else None,
                 mac_ok=isinstance(mac, str) and hmac.compare_digest(mac, expected))
    return facts


def links(prev_hash: str | None, below_hash: str | None) -> bool:
    """Whether a line's ``prev`` names the line below it (``None``: it is the first)."""
    return prev_hash is not None and prev_hash == (below_hash or "")


# Prebuilt statements: building and cache-keying a SQLAlchemy expression per call cost more
# than running it; text() (``sql``) is compiled once per dialect and keyed by its string.
_NEAR = sql(
    "SELECT id, seq, line, line_hash, prev_hash, prev_ok FROM manifest_lines"
    " WHERE session_id = :sid AND track = :track AND (seq = :seq"
    " OR seq = (SELECT max(seq) FROM manifest_lines WHERE session_id = :sid"
    "           AND track = :track AND well_formed = :yes AND seq < :seq)"
    " OR seq = (SELECT min(seq) FROM manifest_lines WHERE session_id = :sid"
    "           AND track = :track AND well_formed = :yes AND seq > :seq))"
).columns(id=Integer, seq=Integer, line=Text, line_hash=String, prev_hash=String,
          prev_ok=Boolean)
_COLUMNS = ("session_id, track, seq, sha256, line, received_at, line_hash, prev_hash, mac_ok,"
            " prev_ok, well_formed")
_VALUES = (":session_id, :track, :seq, :sha256, :line, :received_at, :line_hash, :prev_hash,"
           " :mac_ok, :prev_ok, :well_formed")
_TYPES = (bindparam("received_at", type_=UTCDateTime()),
          *(bindparam(name, type_=Boolean()) for name in ("mac_ok", "prev_ok", "well_formed")))
_INSERT = sql(f"INSERT INTO manifest_lines ({_COLUMNS}) VALUES ({_VALUES})").bindparams(*_TYPES)
# The same insert when the session holds fewer than :limit lines, and nothing (no unique
# violation, which would end a PostgreSQL transaction) when a racing copy got there first.
_INSERT_UNDER = sql(
    f"INSERT INTO manifest_lines ({_COLUMNS}) SELECT {_VALUES}"
    " WHERE (SELECT count(*) FROM manifest_lines WHERE session_id = :held_sid) < :limit"
    " ON CONFLICT (session_id, track, seq) DO NOTHING").bindparams(*_TYPES)
_RELINK = sql("UPDATE manifest_lines SET prev_ok = :ok WHERE id = :id").bindparams(
    bindparam("ok", type_=Boolean()))
_SUMMARY = sql(
    "SELECT track, count(*) AS lines,"
    " sum(CASE WHEN well_formed = :yes THEN 1 ELSE 0 END) AS formed,"
    " max(CASE WHEN well_formed = :yes THEN seq END) AS top,"
    " sum(CASE WHEN well_formed = :yes AND coalesce(mac_ok, :no) = :no THEN 1 ELSE 0 END)"
    "  AS bad_mac,"
    " sum(CASE WHEN well_formed = :yes AND coalesce(prev_ok, :no) = :no THEN 1 ELSE 0 END)"
    "  AS bad_prev,"
    " sum(CASE WHEN well_formed IS NULL THEN 1 ELSE 0 END) AS unverified"
    " FROM manifest_lines WHERE session_id = :sid GROUP BY track")
_COUNT = sql("SELECT count(*) FROM manifest_lines WHERE session_id = :sid")
_FLAGS = {"yes": True, "no": False}


def line_count(conn: Connection, session_id: str) -> int:
    """How many lines the session's manifest holds."""
    return conn.execute(_COUNT, {"sid": session_id}).scalar_one()


def insert_line(conn: Connection, session_id: str, key: bytes, track: str, seq: int, sha256: str,
                text: str, check_new: Callable[[str], None] | None = None,
                facts: dict | None = None, limit: int | None = None) -> str:
    """Store one line linked into its track: ``"new"``, ``"same"`` or ``"conflict"``.

    ``"same"``/``"conflict"``: a line for (track, seq) is held with this text / another
    text (the first one stays). ``check_new(track)`` may refuse a line that is not held.
    ``facts``: the line's :func:`line_facts`, when the caller has them already.
    No commit; a racing copy fails there as a unique violation, unless ``limit`` is given:
    then the line goes in only while the session holds fewer than ``limit`` lines (else
    ``"full"``), and a racing copy that got there first is answered as held.
    """
    near = conn.execute(_NEAR, {"sid": session_id, "track": track, "seq": seq,
                                **_FLAGS}).all()
    held = next((row for row in near if row.seq == seq), None)
    if held is not None:
        return "same" if held.line == text else "conflict"
    if check_new is not None:
        check_new(track)
    facts = dict(facts) if facts is not None else line_facts(text, key)
    facts["prev_ok"] = None
    over = None
    if facts["well_formed"]:
        under = next((row for row in near if row.seq < seq), None)
        over = next((row for row in near if row.seq > seq), None)
        facts["prev_ok"] = links(facts["prev_hash"], under.line_hash if under else None)
    values = {"session_id": session_id, "track": track, "seq": seq, "sha256": sha256[:64],
              "line": text, "received_at": clock.now(), **facts}
    if limit is None:
        conn.execute(_INSERT, values)
    elif not conn.execute(_INSERT_UNDER, {**values, "held_sid": session_id,
                                          "limit": limit}).rowcount:
        again = conn.execute(_NEAR, {"sid": session_id, "track": track, "seq": seq,
                                     **_FLAGS}).all()
        held = next((row for row in again if row.seq == seq), None)
        if held is None:
            return "full"
        return "same" if held.line == text else "conflict"
    # The line above it now names this one as its predecessor, or no longer does.
    if over is not None and links(over.prev_hash, facts["line_hash"]) != over.prev_ok:
        conn.execute(_RELINK, {"ok": links(over.prev_hash, facts["line_hash"]),
                               "id": over.id})
    return "new"


@dataclass(frozen=True)
class TrackSummary:
    """One track's stored lines in numbers."""

    track: str
    lines: int
    well_formed: int
    top: int | None
    bad_mac: int
    bad_prev: int
    unverified: int

    @property
    def complete(self) -> bool:
        """Every line is well formed and verifies, and no seq below the highest is missing."""
        return (self.lines == self.well_formed and not self.bad_mac and not self.bad_prev
                and self.top is not None and self.top + 1 == self.well_formed)


def track_summaries(conn: Connection, session_id: str) -> list[TrackSummary]:
    """Per track of the session: counts of lines, well-formed, bad and unverified ones."""
    rows = conn.execute(_SUMMARY, {"sid": session_id, **_FLAGS}).all()
    return [TrackSummary(row.track, row.lines, int(row.formed or 0), row.top,
                         int(row.bad_mac or 0), int(row.bad_prev or 0),
                         int(row.unverified or 0))
            for row in rows]


def summary_verification(summaries: list[TrackSummary]) -> ManifestVerification | None:
    """The verification when every track is complete (see :class:`TrackSummary`), else None.

    The same result as ``verify_manifest`` over the lines in (track, seq) order: complete
    tracks have nothing to list but their count.
    """
    if not all(summary.complete for summary in summaries):
        return None
    result = ManifestVerification()
    for summary in sorted(summaries, key=lambda s: s.track):
        result.tracks[summary.track] = TrackVerification(
            summary.track, seqs=list(range(summary.well_formed)))
    return result
