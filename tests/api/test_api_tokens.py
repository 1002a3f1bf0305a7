"""Tokens live in a secure keyring or in memory only; never in files or logs."""

from __future__ import annotations

import logging

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail, null

from tests.server.support import ZHANG_SAN
from zhishiyun.api import ServerClient, tokens
from zhishiyun.api.tokens import TokenStore, secure_backend


class DictKeyring(KeyringBackend):
    """A keyring backend kept in a dict (stands in for the OS store in this test)."""

    priority = 10

    def __init__(self):
        super().__init__()
        self.items = {}

    def get_password(self, service, username):
        return self.items.get((service, username))

    def set_password(self, service, username, password):
        self.items[(service, username)] = password

    def delete_password(self, service, username):
        self.items.pop((service, username), None)


class PlaintextLike(DictKeyring):
    """Pretends to be keyrings.alt's plaintext file backend."""


PlaintextLike.__module__ = "keyrings.alt.file"


@pytest.fixture(autouse=True)
def fresh_warning_state(monkeypatch):
    monkeypatch.setattr(tokens, "_warned", False)
    monkeypatch.setattr(tokens, "_memory", {})


def test_a_secure_backend_stores_the_token():
    backend = DictKeyring()
    store = TokenStore("https://exam.example.cn/", backend=backend)
    assert store.secure
    store.set("secret-token")
    assert backend.items == {(tokens.SERVICE, "https://exam.example.cn"): "secret-token"}
    assert TokenStore("https://exam.example.cn", backend=backend).get() == "secret-token"
    store.clear()
    assert store.get() is None and not backend.items


@pytest.mark.parametrize("backend", [fail.Keyring(), null.Keyring(), PlaintextLike()],
                         ids=["fail", "null", "keyrings.alt"])
def test_insecure_backends_fall_back_to_memory_with_one_warning(backend, caplog):
    assert secure_backend(backend) is None
    with caplog.at_level(logging.WARNING, logger="zhishiyun.api.tokens"):
        first = TokenStore("https://a.example", backend=backend)
        TokenStore("https://b.example", backend=backend)
    assert not first.secure
    warnings = [r for r in caplog.records if "no secure keyring" in r.getMessage()]
    assert len(warnings) == 1
    first.set("tok")
    assert first.get() == "tok"
    if isinstance(backend, PlaintextLike):
        assert backend.items == {}


def test_a_keyring_that_breaks_at_runtime_falls_back(caplog):
    class Locked(DictKeyring):
        def set_password(self, service, username, password):
            raise keyring.errors.KeyringLocked("locked")

    store = TokenStore("https://c.example", backend=Locked())
    with caplog.at_level(logging.WARNING):
        store.set("tok")
    assert store.get() == "tok" and not store.secure


@pytest.mark.integration
def test_login_leaves_no_token_in_files_or_logs(demo_server, isolated_home, caplog):
    from zhishiyun.log import setup_logging

    setup_logging(isolated_home / "logs", "DEBUG")
    caplog.set_level(logging.DEBUG)
    client = ServerClient(demo_server.url, token_store=TokenStore(demo_server.url,
                                                                  backend=null.Keyring()))
    token = client.login_password(ZHANG_SAN[1], ZHANG_SAN[2]).token
    client.me()
    for handler in logging.getLogger().handlers:
        handler.flush()
    for path in isolated_home.rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), path
    assert token not in caplog.text and ZHANG_SAN[2] not in caplog.text
