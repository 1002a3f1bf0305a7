"""Alembic environment: uses the engine handed over by zhishiyun_server.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import zhishiyun_server.models  # noqa: F401 - registers the tables
from zhishiyun_server.db import Base

target_metadata = Base.metadata


def run() -> None:
    """Run the migrations online (with a connection)."""
    config = context.config
    engine = config.attributes.get("engine") or create_engine(
        config.get_main_option("sqlalchemy.url"))
    with engine.begin() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite")
        context.run_migrations()


run()
