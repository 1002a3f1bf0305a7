"""TLS is verified; an organisation's own CA bundle makes its server trusted, never replaces."""

from __future__ import annotations

import pytest

from zhishiyun.api import ApiError, ServerClient
from zhishiyun.api.tokens import MemoryTokenStore

pytestmark = pytest.mark.integration


def test_an_untrusted_certificate_is_a_tls_error(tls_server):
    url = tls_server.url
    with pytest.raises(ApiError) as info:
        ServerClient(url, token_store=MemoryTokenStore(), retries=0).health()
    assert info.value.code == "tls" and info.value.hint


def test_the_organisations_ca_bundle_is_trusted_too(tls_server):
    url, ca = tls_server.url, tls_server.ca
    client = ServerClient(url, token_store=MemoryTokenStore(), ca_bundle=str(ca))
    assert client.health().status == "ok"
    assert client.config().org_name


def test_a_broken_ca_bundle_is_reported_and_ignored(tls_server, tmp_path, caplog):
    url = tls_server.url
    bad = tmp_path / "org-ca.pem"
    bad.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    client = ServerClient(url, token_store=MemoryTokenStore(), ca_bundle=str(bad), retries=0)
    assert "cannot be used" in caplog.text
    with pytest.raises(ApiError) as info:
        client.health()
    assert info.value.code == "tls"
