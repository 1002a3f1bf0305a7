"""Candidates, an open written exam and the services ``server_load.py`` runs against."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import free_port  # noqa: E402,F401 - re-exported
from tests.server.seaweed import seaweed  # noqa: E402,F401 - re-exported
from tests.server.support import fresh_pg_database  # noqa: E402,F401 - re-exported

PASSWORD = "load-test-1"
#: Candidates seeded per configuration (the largest step cannot exceed it).
CANDIDATES = 600
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(index: int) -> str:
    """A valid 18-character resident ID number (GB 11643 check character) for ``index``."""
    body = f"110101199001{index:05d}"
    total = sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


def seed(db_url: str, data: Path, count: int = CANDIDATES) -> tuple[list[str], int]:
    """Migrate ``db_url``; add ``count`` candidates enrolled in an open written exam."""
    from zhishiyun_server.db import make_engine, make_session_factory
    from zhishiyun_server.migrate import upgrade
    from zhishiyun_server.models import Candidate, Enrolment, Exam, Organisation
    from zhishiyun_server.security import hash_password

    engine = make_engine(db_url)
    upgrade(engine)
    factory = make_session_factory(engine)
    now = datetime.now(timezone.utc)
    stored = hash_password(PASSWORD)  # one scrypt for everyone: seeding stays fast
    people = [id_number(i) for i in range(count)]
    with factory() as db:
        db.add(Organisation(name="Load test", password_login=True, ntp_servers=[], checks={},
                            recording={}))
        exam = Exam(name="load test", kind="written", entry_opens_at=now - timedelta(hours=1),
                    entry_closes_at=now + timedelta(hours=6), starts_at=now,
                    duration_s=6 * 3600, rules="")
        db.add(exam)
        db.flush()
        for i, number in enumerate(people):
            person = Candidate(name=f"考生{i}", id_number=number, password_hash=stored)
            db.add(person)
            db.flush()
            db.add(Enrolment(exam_id=exam.id, candidate_id=person.id))
        db.commit()
        exam_id = exam.id
    engine.dispose()
    return people, exam_id
