"""The server's files are its owner's only, and database errors never show bound values."""

from __future__ import annotations

import hashlib
import os
import stat

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tests.conftest import RunningServer
from tests.server.hardening import enter, upload

pytestmark = pytest.mark.skipif(os.name != "posix", reason="not on this OS: POSIX modes")


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_database_and_uploads_are_created_owner_only(tmp_path):
    data = tmp_path / "fresh" / "data"  # not there yet: the server creates it
    server = RunningServer(data_dir=data, db_url=f"sqlite:///{data}/server.db")
    data.mkdir(parents=True)  # the test harness writes server.log here
    data.chmod(0o755)
    try:
        server.start()
        inside = enter(server.url)
        reply = upload(inside, b"evidence" * 100, seq=0)
        assert reply.status_code == 204
    finally:
        server.stop()
    assert mode(data) == 0o700 and mode(data / "uploads") == 0o700
    assert mode(data / "server.db") == 0o600
    upload_id = reply.location.rsplit("/", 1)[1]
    assert mode(data / "uploads" / f"{upload_id}.bin") & 0o077 == 0
    digest = hashlib.sha256((data / "uploads" / f"{upload_id}.bin").read_bytes()).hexdigest()
    assert digest == hashlib.sha256(b"evidence" * 100).hexdigest()


def test_database_errors_do_not_carry_the_values_bound_to_them(tmp_path):
    from zhishiyun_server.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (v TEXT UNIQUE)"))
        conn.execute(text("INSERT INTO t VALUES (:v)"), {"v": "scrypt$secret-hash"})
    with pytest.raises(IntegrityError) as error, engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (:v)"), {"v": "scrypt$secret-hash"})
    assert "secret-hash" not in str(error.value)
    engine.dispose()
