"""Helpers for the checks tests: contexts built on the real settings layers."""

from __future__ import annotations

import pytest

from zhishiyun.checks import CheckContext
from zhishiyun.config import load_settings


@pytest.fixture
def make_context():
    """``make_context(server_url=None, settings=None, **context_kwargs)`` → CheckContext."""

    def make(server_url: str | None = None, settings: dict | None = None, **kwargs):
        overrides = dict(settings or {})
        if server_url:
            overrides["server_url"] = server_url
        return CheckContext(load_settings(overrides), **kwargs)

    return make


# --- real misbehaving servers on 127.0.0.1 ------------------------------------------------

import datetime as _dt  # noqa: E402
import http.server  # noqa: E402
import json  # noqa: E402
import socket  # noqa: E402
import ssl  # noqa: E402
import struct  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def refused_url():
    """A port on 127.0.0.1 where nothing listens."""
    return f"http://127.0.0.1:{_free_port()}"


@pytest.fixture
def silent_url():
    """A server that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held, stop = [], threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


class _Handler(http.server.BaseHTTPRequestHandler):
    """Answers like a plain web server: HTML; optionally a throttled speed-test endpoint."""

    rate_bytes_s: float = 0.0

    def log_message(self, *args):  # keep test output clean
        pass

    def _send(self, status, body, content_type):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/":
            self._send(200, "<html><body>It works!</body></html>", "text/html")
        else:
            self._send(404, "<html><body><h1>404 Not Found</h1></body></html>", "text/html")

    def do_POST(self):
        if not self.rate_bytes_s or not self.path.startswith("/api/v1/speedtest"):
            return self.do_GET()
        remaining = int(self.headers.get("Content-Length", "0"))
        started, total = time.perf_counter(), 0
        while remaining:
            chunk = self.rfile.read(min(remaining, 8192))
            if not chunk:
                break
            total += len(chunk)
            remaining -= len(chunk)
            ahead = total / self.rate_bytes_s - (time.perf_counter() - started)
            if ahead > 0:
                time.sleep(ahead)  # a slow link: read no faster than rate_bytes_s
        self._send(200, json.dumps({"bytes": total,
                                    "seconds": time.perf_counter() - started}),
                   "application/json")


def _serve(handler, tls_context=None):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    if tls_context is not None:
        server.socket = tls_context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


@pytest.fixture
def web_server_url():
    """A plain web server (HTML, 404 for /api/…): not a Zhishiyun server."""
    server, thread = _serve(_Handler)
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def slow_upload_url():
    """A server whose /api/v1/speedtest reads the upload at 100 kB/s (800 kbit/s)."""
    handler = type("SlowHandler", (_Handler,), {"rate_bytes_s": 100_000.0})
    server, thread = _serve(handler)
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def untrusted_tls_url(tmp_path):
    """An HTTPS server with a freshly made self-signed certificate nobody trusts."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = _dt.datetime.now(_dt.timezone.utc)
    import ipaddress

    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - _dt.timedelta(days=1))
            .not_valid_after(now + _dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert_file, key_file)
    server, thread = _serve(_Handler, tls)
    yield f"https://127.0.0.1:{server.server_address[1]}", cert_file
    server.shutdown()
    server.server_close()


NTP_EPOCH_DELTA = 2208988800  # seconds from 1900-01-01 to 1970-01-01


def _ntp_timestamp(t: float) -> bytes:
    seconds = int(t) + NTP_EPOCH_DELTA
    return struct.pack("!II", seconds, int((t % 1) * 2**32))


@pytest.fixture
def ntp_responder():
    """``ntp_responder(offset_s)`` → ``"127.0.0.1:PORT"`` of a UDP NTP server that is
    ``offset_s`` ahead of this machine's clock."""
    sockets, stop = [], threading.Event()

    def start(offset_s: float) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(0.2)
        sockets.append(sock)

        def serve():
            while not stop.is_set():
                try:
                    data, addr = sock.recvfrom(512)
                except OSError:
                    continue
                if len(data) < 48:
                    continue
                now = time.time() + offset_s
                reply = (bytes([0x1C, 1, 0, 0xEC]) + b"\0" * 8 + b"LOCL"
                         + _ntp_timestamp(now) + data[40:48] + _ntp_timestamp(now)
                         + _ntp_timestamp(time.time() + offset_s))
                sock.sendto(reply, addr)

        threading.Thread(target=serve, daemon=True).start()
        return f"127.0.0.1:{sock.getsockname()[1]}"

    yield start
    stop.set()
    for sock in sockets:
        sock.close()
