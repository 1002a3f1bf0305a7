"""TLS is verified; an organisation's own CA bundle makes its server trusted."""

from __future__ import annotations

import datetime as dt
import ipaddress
import subprocess
import sys
import time

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import REPO, free_port
from zhishiyun.api import ApiError, ServerClient
from zhishiyun.api.tokens import MemoryTokenStore

pytestmark = pytest.mark.integration


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca_and_server_cert(directory):
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("Test Org CA")).issuer_name(
        _name("Test Org CA")).public_key(ca_key.public_key()).serial_number(1)
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name("127.0.0.1")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(2)
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.OID_SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = {name: directory / f"{name}.pem" for name in ("ca", "cert", "key")}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    return paths


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    data = tmp_path_factory.mktemp("tls-server")
    paths = make_ca_and_server_cert(data)
    port = free_port()
    log = open(data / "server.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "zhishiyun_server", "--data", str(data), "--port", str(port),
         "--host", "127.0.0.1", "--ssl-certfile", str(paths["cert"]),
         "--ssl-keyfile", str(paths["key"])], stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    url = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (data / "server.log").read_text()
            try:
                requests.get(url + "/api/v1/health", verify=str(paths["ca"]), timeout=1)
                break
            except requests.RequestException:
                assert time.monotonic() < deadline, "TLS server did not start"
                time.sleep(0.1)
        yield url, paths["ca"]
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def test_an_untrusted_certificate_is_a_tls_error(tls_server):
    url, _ca = tls_server
    with pytest.raises(ApiError) as info:
        ServerClient(url, token_store=MemoryTokenStore(), retries=0).health()
    assert info.value.code == "tls" and info.value.hint


def test_the_organisations_ca_bundle_is_trusted_too(tls_server):
    url, ca = tls_server
    client = ServerClient(url, token_store=MemoryTokenStore(), ca_bundle=str(ca))
    assert client.health().status == "ok"
    assert client.config().org_name


def test_a_broken_ca_bundle_is_reported_and_ignored(tls_server, tmp_path, caplog):
    url, _ca = tls_server
    bad = tmp_path / "org-ca.pem"
    bad.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    client = ServerClient(url, token_store=MemoryTokenStore(), ca_bundle=str(bad), retries=0)
    assert "cannot be used" in caplog.text
    with pytest.raises(ApiError) as info:
        client.health()
    assert info.value.code == "tls"
