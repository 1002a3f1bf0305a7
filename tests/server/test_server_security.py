"""Passwords are scrypt hashes, tokens are stored hashed, the login limits count failures."""

from __future__ import annotations

import pytest

from zhishiyun_server.errors import ApiProblem
from zhishiyun_server.security import hash_password, token_digest, verify_password


def test_password_hashes_are_salted_scrypt_and_verify():
    first, second = hash_password("zsy-demo-1"), hash_password("zsy-demo-1")
    assert first.startswith("scrypt$") and first != second and "zsy-demo-1" not in first
    assert verify_password("zsy-demo-1", first) and verify_password("zsy-demo-1", second)
    assert not verify_password("zsy-demo-2", first)
    assert not verify_password("x", None) and not verify_password("x", "md5$abc")


def test_database_urls_are_normalised_for_psycopg3():
    from zhishiyun_server.db import normalise_url

    assert normalise_url("postgresql://u:p@db/x") == "postgresql+psycopg://u:p@db/x"
    assert normalise_url("postgres://db/x") == "postgresql+psycopg://db/x"
    assert normalise_url("sqlite:////tmp/a.db") == "sqlite:////tmp/a.db"


def test_tokens_are_stored_as_digests():
    assert len(token_digest("abc")) == 64 and token_digest("abc") != "abc"


def test_login_limits_block_after_the_failures_and_reset_on_success(tmp_path):
    from zhishiyun_server import login_limits
    from zhishiyun_server.app import create_app
    from zhishiyun_server.settings import ServerConfig

    app = create_app(ServerConfig(data_dir=tmp_path))
    factory, limits = app.state.session_factory, login_limits.Limits(3, 60)
    held = [login_limits.reserve(factory, limits, "ID1", "10.0.0.1") for _ in range(3)]
    with pytest.raises(ApiProblem) as refused:
        login_limits.reserve(factory, limits, "ID1", "10.0.0.1")
    assert refused.value.status == 429 and 0 < refused.value.extra["retry_after"] <= 60
    login_limits.reserve(factory, limits, "ID1", "10.0.0.2")  # another client is not locked
    login_limits.reserve(factory, limits, "ID2", "10.0.0.1")  # nor another ID number
    login_limits.settle(factory, held[0], ok=True)
    login_limits.reserve(factory, limits, "ID1", "10.0.0.1")
    app.state.engine.dispose()


def test_scrypt_runs_in_bounded_slots_and_a_full_house_is_busy(monkeypatch):
    from zhishiyun_server import security

    monkeypatch.setattr(security, "SCRYPT_WAIT_S", 0.2)
    stored = hash_password("pw")
    taken = 0
    while security._scrypt_slots.acquire(blocking=False):
        taken += 1
    try:
        assert taken == security.SCRYPT_SLOTS
        with pytest.raises(security.ServerBusy):
            verify_password("pw", stored)
    finally:
        for _ in range(taken):
            security._scrypt_slots.release()
    assert verify_password("pw", stored)


def test_a_stored_hash_cannot_ask_for_unbounded_scrypt_work():
    assert not verify_password("pw", "scrypt$1073741824$8$1$c2FsdA==$ZGlnZXN0")
