"""The real server over TLS with a private CA, a real tinyproxy, and a server that drips."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO, free_port, require
from tests.transport.pki import make_ca_and_server_cert

#: Variables that would make the client trust or route differently from a candidate's PC.
FOREIGN_ENV = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE",
               "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
               "all_proxy", "NO_PROXY", "no_proxy")


@pytest.fixture(autouse=True)
def candidate_environment(monkeypatch):
    """No CA bundle or proxy from the developer's shell: a candidate's computer has none."""
    for name in FOREIGN_ENV:
        monkeypatch.delenv(name, raising=False)


def client_env(**settings: str) -> dict[str, str]:
    """The environment of a ``zhishiyun`` subprocess: ours minus foreign CA/proxy settings."""
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_ENV}
    env.update({f"ZHISHIYUN_{k.upper()}": v for k, v in settings.items()})
    return env


def zhishiyun(*args: str, timeout: float = 120, **settings: str) -> tuple[subprocess.
                                                                          CompletedProcess, float]:
    """Run ``python -m zhishiyun ARGS``; (result, seconds it took)."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "zhishiyun", *args], capture_output=True,
                          text=True, cwd=REPO, env=client_env(**settings), timeout=timeout)
    return done, time.monotonic() - started


@dataclass
class TlsServer:
    """``zhishiyun-server --demo`` over HTTPS with a certificate from a private CA."""

    url: str
    ca: Path
    data_dir: Path
    db_url: str
    process: subprocess.Popen


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    data = tmp_path_factory.mktemp("tls-demo")
    paths = make_ca_and_server_cert(data)
    port = free_port()
    db_url = f"sqlite:///{data}/server.db"
    log = open(data / "server.log", "wb")  # noqa: SIM115 - closed below
    env = {**os.environ, "ZHISHIYUN_DEMO_WRITTEN_START_DELAY_S": "0"}
    process = subprocess.Popen(
        [sys.executable, "-m", "zhishiyun_server", "--demo", "--db", db_url, "--data",
         str(data), "--host", "127.0.0.1", "--port", str(port), "--ssl-certfile",
         str(paths["cert"]), "--ssl-keyfile", str(paths["key"])],
        stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=env)
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
        yield TlsServer(url, paths["ca"], data, db_url, process)
    finally:
        process.terminate()
        try:  # uvicorn waits for idle keep-alive connections; no need to wait long here
            process.wait(3)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()


@dataclass
class Tinyproxy:
    """A real tinyproxy on 127.0.0.1 with its own config and log."""

    url: str
    log: Path

    def lines(self) -> list[str]:
        """The proxy's log lines so far."""
        return self.log.read_text(errors="replace").splitlines()

    def saw(self, method: str, fragment: str) -> bool:
        """Whether a ``METHOD http://…fragment…`` request line went through."""
        return any(f"): {method} " in line and fragment in line for line in self.lines()
                   if "Request (" in line)


def start_tinyproxy(directory: Path, connect_ports: tuple[int, ...] = ()) -> tuple[
        Tinyproxy, subprocess.Popen]:
    """Start tinyproxy in the foreground (``-d``) on a free port."""
    binary = shutil.which("tinyproxy")
    if binary is None:
        require("tinyproxy", "apt-get install tinyproxy (bootstrap.sh installs it)")
    port = free_port()
    log = directory / "tinyproxy.log"
    log.touch()
    config = directory / "tinyproxy.conf"
    config.write_text("\n".join([
        f"Port {port}", "Listen 127.0.0.1", "Timeout 60", f"LogFile \"{log}\"",
        "LogLevel Info", "MaxClients 20", "Allow 127.0.0.1",
        *(f"ConnectPort {p}" for p in connect_ports), ""]))
    process = subprocess.Popen([binary, "-d", "-c", str(config)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while True:
        assert process.poll() is None, log.read_text()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "tinyproxy did not start"
            time.sleep(0.05)
    return Tinyproxy(f"http://127.0.0.1:{port}", log), process


@pytest.fixture
def tinyproxy(tmp_path):
    proxy, process = start_tinyproxy(tmp_path)
    try:
        yield proxy
    finally:
        process.terminate()
        process.wait(10)


class DripServer:
    """Accepts every connection, then sends one byte of an HTTP reply every ``every`` s.

    Each byte arrives well inside any per-read timeout, so only a total deadline ends a
    request to it.
    """

    REPLY = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Slow: " + b"z" * 10_000

    def __init__(self, every: float = 2.0) -> None:
        self.every = every
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="drip", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> DripServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _addr = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        with conn:
            for index in range(len(self.REPLY)):
                if self._stop.wait(self.every):
                    return
                try:
                    conn.sendall(self.REPLY[index:index + 1])
                except OSError:
                    return


@pytest.fixture
def drip_server():
    with DripServer() as server:
        yield server
