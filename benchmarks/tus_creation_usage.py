"""What a tus creation's budget check costs at a session's 10th and 1,000th segment.

Each creation reads the session's usage (open uploads, bytes held, segments, tracks) in
one statement (``zhishiyun_server.tus.pending.usage``). It reads per-track totals kept by
triggers; the reference is the form it replaced, measured in the same run on the same
database: sums and counts over every received segment of the session. On PostgreSQL
(``ZHISHIYUN_TEST_PG_URL``, a fresh database) or else SQLite; wall milliseconds per
statement (client and database, one at a time), median of ``--repeat``.

Prints one JSON object: per segment count, ``ms`` of ours and of the reference, and
``vs_reference`` (ours ÷ reference).

    python benchmarks/tus_creation_usage.py [--counts 10,1000] [--repeat 300]
    python benchmarks/tus_creation_usage.py --smoke     # a few seconds; not a measurement
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sqlalchemy import bindparam, func, insert, select  # noqa: E402

from zhishiyun_server import clock  # noqa: E402
from zhishiyun_server.models import RecordingSegment  # noqa: E402
from zhishiyun_server.tus import pending  # noqa: E402


def _reference():
    """The usage statement as it was: every received segment of the session summed."""
    session = bindparam("p_session")

    def received(column, *where):
        return select(column).where(RecordingSegment.session_id == session,
                                    *where).scalar_subquery()

    return select(
        pending._pending(func.count()),
        pending._pending(func.coalesce(func.sum(pending.PendingUpload.length), 0)),
        received(func.coalesce(func.sum(RecordingSegment.bytes), 0)),
        received(func.count()),
        received(func.count(func.distinct(RecordingSegment.track))),
        received(func.count(), RecordingSegment.track == bindparam("track")))


@contextlib.contextmanager
def _database(work: Path):
    """A migrated database with demo data: a fresh PostgreSQL one if there is a server."""
    from zhishiyun_server.app import create_app
    from zhishiyun_server.settings import ServerConfig

    if os.environ.get("ZHISHIYUN_TEST_PG_URL"):
        from tests.server.support import fresh_pg_database

        with fresh_pg_database() as url:
            app = create_app(ServerConfig(data_dir=work, db_url=url, demo=True))
            yield app.state.engine
            app.state.engine.dispose()
        return
    app = create_app(ServerConfig(data_dir=work, demo=True))
    yield app.state.engine
    app.state.engine.dispose()


def _usage(row) -> tuple:
    """What a creation's checks use of a usage row (the last column only says "known")."""
    return (*(int(x) for x in row[:5]), bool(row[5]))


def _median_ms(conn, statement, params: dict, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        conn.execute(statement, params).one()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 4)


def main(argv: list[str] | None = None) -> int:
    """Measure both forms at each segment count; print the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="10,1000")
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--smoke", action="store_true", help="a few seconds")
    args = parser.parse_args(argv)
    if args.smoke:
        args.repeat = 5
    counts = [int(c) for c in args.counts.split(",")]
    from zhishiyun_server.demo import seed_if_empty
    from zhishiyun_server.models import Candidate, Exam, ExamSession

    report: dict = {"smoke": args.smoke, "counts": {}}
    with tempfile.TemporaryDirectory(prefix="zsy-usage-") as tmp, _database(Path(tmp)) as engine:
        report["database"] = engine.dialect.name
        from sqlalchemy.orm import sessionmaker

        from zhishiyun_server.settings import ServerConfig

        seed_if_empty(sessionmaker(bind=engine), ServerConfig(data_dir=Path(tmp), demo=True))
        with engine.begin() as conn:
            exam_id = conn.execute(select(Exam.id)).scalars().first()
            candidates = conn.execute(select(Candidate.id)).scalars().all()
        reference = _reference()
        for count, candidate_id in zip(counts, candidates, strict=False):
            session_id = uuid.uuid4().hex[:20]
            with engine.begin() as conn:
                conn.execute(insert(ExamSession).values(
                    id=session_id, exam_id=exam_id, candidate_id=candidate_id,
                    session_key="0" * 64, entered_at=clock.now()))
                conn.execute(insert(RecordingSegment), [
                    {"session_id": session_id, "track": ("screen", "camera")[seq % 2],
                     "seq": seq, "bytes": 512 * 1024, "sha256": "0" * 64, "storage_key": "",
                     "received_at": clock.now()} for seq in range(count)])
            params = {"p_session": session_id, "now": clock.now(), "track": "screen"}
            with engine.connect() as conn:
                ours = _median_ms(conn, pending._USAGE, params, args.repeat)
                theirs = _median_ms(conn, reference, params, args.repeat)
                same = _usage(conn.execute(pending._USAGE, params).one()) == \
                    _usage(conn.execute(reference, params).one())
            report["counts"][str(count)] = {"ms": ours, "reference_ms": theirs,
                                            "vs_reference": round(ours / theirs, 3),
                                            "same_result": same}
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
