"""Helpers for server/API tests: a fresh PostgreSQL database, direct seeding of exams."""

from __future__ import annotations

import os
import secrets
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import pytest

ZHANG_SAN = ("张三", "110101199003070011", "zsy-demo-1")
LI_SI = ("李四", "440304199508150021")
WANG_WU = ("王五", "11010519491231002X", "wang-wu-pass")
PG_SKIP = ("ZHISHIYUN_TEST_PG_URL is not set: no PostgreSQL server for this run "
           "(`source scripts/services.sh && start_postgres` starts one)")


def pg_url() -> str | None:
    """The PostgreSQL server of this test run, if there is one."""
    return os.environ.get("ZHISHIYUN_TEST_PG_URL") or None


@contextmanager
def fresh_pg_database():
    """Create an empty database on the test PostgreSQL server; drop it afterwards."""
    base = pg_url()
    if not base:
        pytest.skip(PG_SKIP)
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(base)
    name = f"zsy_test_{uuid.uuid4().hex[:12]}"
    admin_dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        # Plain postgresql:// as an organisation would write it (the server picks psycopg 3).
        yield url.set(drivername="postgresql", database=name).render_as_string(
            hide_password=False)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def db_session(db_url: str):
    """A SQLAlchemy session on the server's database (schema already migrated)."""
    from zhishiyun_server.db import make_engine, make_session_factory

    engine = make_engine(db_url)
    return engine, make_session_factory(engine)()


def now() -> datetime:
    return datetime.now(timezone.utc)


def add_candidate(db_url: str, name: str, id_number: str, password: str | None) -> int:
    """Add a candidate (with a password when given) straight into the database."""
    from zhishiyun_server.models import Candidate
    from zhishiyun_server.security import hash_password

    engine, db = db_session(db_url)
    try:
        row = Candidate(name=name, id_number=id_number,
                        password_hash=hash_password(password) if password else None)
        db.add(row)
        db.commit()
        return row.id
    finally:
        db.close()
        engine.dispose()


def add_exam(db_url: str, *, opens: timedelta, closes: timedelta, starts: timedelta,
             duration_s: int = 3600, kind: str = "written", lottery: bool = False,
             enrol: tuple[str, ...] = (ZHANG_SAN[1], WANG_WU[1]), papers: bool = True) -> int:
    """Create an exam whose times are relative to now and enrol people by ID number."""
    from sqlalchemy import select

    from zhishiyun_server.models import Candidate, Enrolment, Exam, Paper

    t = now()
    engine, db = db_session(db_url)
    try:
        exam = Exam(name=f"test {kind} {secrets.token_hex(3)}", kind=kind,
                    entry_opens_at=t + opens, entry_closes_at=t + closes,
                    starts_at=t + starts, duration_s=duration_s, lottery_required=lottery,
                    requires_second_camera=False, rules="be honest")
        db.add(exam)
        db.flush()
        for number in enrol:
            person = db.scalar(select(Candidate).where(Candidate.id_number == number))
            db.add(Enrolment(exam_id=exam.id, candidate_id=person.id))
        if papers:
            db.add(Paper(exam_id=exam.id, position=0, kind="text", title="Q",
                         content_type="text/plain; charset=utf-8", content=b"1+1?"))
        db.commit()
        return exam.id
    finally:
        db.close()
        engine.dispose()


@contextmanager
def running_server(tmp_path_factory, backend: str = "sqlite", *, demo: bool = True,
                   env: dict | None = None):
    """A real ``python -m zhishiyun_server`` on SQLite or a fresh PostgreSQL database."""
    from tests.conftest import RunningServer

    data = tmp_path_factory.mktemp(f"server-{backend}")
    if backend == "postgres":
        with fresh_pg_database() as url:
            server = RunningServer(data_dir=data, db_url=url, demo=demo, env=env or {})
            try:
                yield server.start()
            finally:
                server.stop()
        return
    server = RunningServer(data_dir=data, db_url=f"sqlite:///{data}/server.db", demo=demo,
                           env=env or {})
    try:
        yield server.start()
    finally:
        server.stop()
