"""Passwords are scrypt hashes, tokens are stored hashed, the limiter counts failures."""

from __future__ import annotations

from zhishiyun_server.security import RateLimiter, hash_password, token_digest, verify_password


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


def test_rate_limiter_blocks_after_the_failures_and_resets_on_success():
    limiter = RateLimiter(max_failures=3, window_s=60)
    for _ in range(3):
        assert limiter.retry_after("id:1") == 0
        limiter.failed("id:1")
    assert 0 < limiter.retry_after("id:1") <= 60
    assert limiter.retry_after("id:2") == 0
    limiter.reset("id:1")
    assert limiter.retry_after("id:1") == 0
