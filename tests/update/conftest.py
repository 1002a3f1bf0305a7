"""Real pieces for the update tests: the reference server, its admin command, a file server.

Releases are published with ``zhishiyun-server admin publish-release`` (signing with a key
file) and served by a separate HTTP file server (Starlette's StaticFiles under uvicorn, which
answers ``Range`` requests with 206), as an organisation's download host would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

REPO = Path(__file__).resolve().parents[2]
FILE_SERVER = """
import sys, uvicorn
from starlette.staticfiles import StaticFiles
uvicorn.run(StaticFiles(directory=sys.argv[1]), host="127.0.0.1", port=int(sys.argv[2]),
            log_level="info", access_log=True)
"""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class FileServer:
    """A download host: files in ``root`` at ``url``; ``log`` has one line per request."""

    root: Path
    url: str
    log: Path

    def requests_for(self, name: str) -> list[str]:
        """Access-log lines for ``/name`` (method, path and status)."""
        return [line for line in self.log.read_text().splitlines() if f"/{name} " in line]


@pytest.fixture(scope="module")
def file_server(tmp_path_factory):
    """One download host per test module (tests publish files under their own names)."""
    tmp_path = tmp_path_factory.mktemp("download-host")
    root = tmp_path / "www"
    root.mkdir()
    log = tmp_path / "www.log"
    port = _free_port()
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-c", FILE_SERVER, str(root), str(port)],
                                   stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"file server exited: {log.read_text()}")
            try:
                requests.get(url + "/", timeout=1)
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"file server did not answer: {log.read_text()}") from None
                time.sleep(0.1)
        yield FileServer(root=root, url=url, log=log)
    finally:
        process.terminate()
        process.wait(10)


def write_private_key(path: Path) -> Ed25519PrivateKey:
    """A fresh Ed25519 key written as an unencrypted PEM file (what the admin command reads)."""
    key = Ed25519PrivateKey.generate()
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return key


@pytest.fixture(scope="module")
def org_key(tmp_path_factory):
    """The organisation's signing key (private file) and the public key clients ship."""
    path = tmp_path_factory.mktemp("keys") / "org-release.pem"
    return path, write_private_key(path).public_key()


@pytest.fixture(scope="module")
def release_server(tmp_path_factory):
    """One reference server per test module; each test publishes the release it needs
    (the newest published release is the one the server offers)."""
    from tests.conftest import RunningServer

    data = tmp_path_factory.mktemp("release-server")
    server = RunningServer(data_dir=data, db_url=f"sqlite:///{data}/server.db",
                           demo=False).start()
    yield server
    server.stop()


def publish(server, *, file: Path, url: str, key: Path, version: str, minimum: str,
            platform: str = "linux") -> str:
    """``zhishiyun-server admin publish-release`` against ``server``'s database."""
    done = subprocess.run(
        [sys.executable, "-m", "zhishiyun_server", "admin", "--db", server.db_url,
         "--data", str(server.data_dir), "publish-release", "--platform", platform,
         "--version", version, "--minimum", minimum, "--url", url, "--file", str(file),
         "--key", str(key)],
        capture_output=True, text=True, cwd=REPO, env={**os.environ})
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout
