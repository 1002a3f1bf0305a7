"""Schema migrations: a fresh database reaches head; upgrading keeps the data."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text

from tests.server.support import fresh_pg_database
from zhishiyun_server.app import create_app
from zhishiyun_server.db import Base, make_engine, make_session_factory
from zhishiyun_server.demo import seed_if_empty
from zhishiyun_server.migrate import alembic_config, current, upgrade
from zhishiyun_server.models import Candidate, Organisation
from zhishiyun_server.settings import ServerConfig

#: What a server of the first version held, written as it wrote it (plain SQL at 0001): the
#: ORM models of today have columns that 0001 has not, so they cannot write the old rows.
FIRST_VERSION_ROWS = [
    "INSERT INTO organisations (id, name, support_phone, support_qq, support_email, "
    "support_hours, password_login, face_login, ntp_servers, checks, recording, "
    "max_upload_bytes, max_session_bytes) VALUES (1, '示例考试中心', '400-000-0000', '', "
    "'', '', true, true, '[]', '{}', '{}', 1073741824, 21474836480)",
    "INSERT INTO candidates (id, name, id_number, phone, email, created_at) VALUES "
    "(1, '张三', '110101199003070011', '', '', '2026-11-01 08:00:00'), "
    "(2, '李四', '440304199508150021', '', '', '2026-11-01 08:00:00')",
]


def _check_upgrade_keeps_data(url: str, tmp_path) -> None:
    create_app(ServerConfig(db_url="sqlite://", data_dir=tmp_path, migrate=False))  # every table
    engine = make_engine(url)
    command.upgrade(alembic_config(engine), "0001_initial")
    with engine.begin() as connection:
        for statement in FIRST_VERSION_ROWS:
            connection.execute(text(statement))
    config = ServerConfig(db_url=url, data_dir=tmp_path, demo_written_start_delay_s=60)
    factory = make_session_factory(engine)
    upgrade(engine)  # the newest revisions of every part apply on top
    upgrade(engine)  # and running it again changes nothing
    heads = set(ScriptDirectory.from_config(alembic_config(engine)).get_heads())
    assert current(engine) == heads
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) - {"alembic_version"} <= tables, (
        "a table declared on Base has no migration")
    with factory() as db:
        assert {c.name for c in db.scalars(select(Candidate))} == {"张三", "李四"}
        organisation = db.get(Organisation, 1)
        assert organisation.name == "示例考试中心"
        assert organisation.local_retention_days == 7  # a new column's default for old rows
    app = create_app(config)  # a restart migrates (nothing to do) and keeps the data
    assert not seed_if_empty(app.state.session_factory, config).seeded
    engine.dispose()
    app.state.engine.dispose()


def test_sqlite_upgrade_keeps_data(tmp_path):
    _check_upgrade_keeps_data(f"sqlite:///{tmp_path / 'server.db'}", tmp_path)


@pytest.mark.postgres
def test_postgres_upgrade_keeps_data(tmp_path):
    with fresh_pg_database() as url:
        _check_upgrade_keeps_data(url, tmp_path)
