"""An endless request head is refused with 431 before it costs the server its memory.

Over raw sockets to the real server (its CLI, uvicorn with httptools): a header growing
without end, a request line likewise, many headers; the largest head our own client
sends (a tus creation carrying its manifest line) still passes, and so does a
keep-alive connection's second request.
"""

from __future__ import annotations

import json
import socket
import time

import psutil
import pytest

from zhishiyun_server.http_limits import MAX_HEAD_BYTES

#: What the refused floods may grow the server's resident memory by, at most.
MAX_RSS_GROWTH_MB = 40


def _send_head(port: int, parts, limit_bytes: int) -> bytes:
    """Send ``parts`` until ``limit_bytes`` have gone or the server closes; its reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        sent = 0
        try:
            for part in parts:
                s.sendall(part)
                sent += len(part)
                if sent >= limit_bytes:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed while we were still sending: read what it said
        reply = b""
        try:
            while chunk := s.recv(65536):
                reply += chunk
        except (ConnectionResetError, TimeoutError):
            pass
        return reply


def _one_response(s: socket.socket) -> bytes:
    """One whole response (head and ``content-length`` body) read from ``s``."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")))
    while len(body) < length:
        body += s.recv(65536)
    return head + b"\r\n\r\n" + body


def _endless(prefix: bytes, piece: bytes):
    yield prefix
    while True:
        yield piece


@pytest.fixture
def server(server_factory):
    return server_factory()


def _rss_mb(server) -> float:
    return psutil.Process(server.process.pid).memory_info().rss / 2**20


@pytest.mark.parametrize("prefix, piece", [
    (b"GET /api/v1/time HTTP/1.1\r\nHost: x\r\nX-Big: ", b"a" * 65536),  # one huge header
    (b"GET /api/v1/time?", b"q" * 65536),  # a huge request line
    (b"GET /api/v1/time HTTP/1.1\r\nHost: x\r\n", b"X-Many: 1\r\n" * 6000),  # many headers
])
def test_an_endless_head_gets_431_and_costs_no_memory(server, prefix, piece):
    before = _rss_mb(server)
    reply = _send_head(server.port, _endless(prefix, piece), limit_bytes=64 * 2**20)
    status, _, rest = reply.partition(b"\r\n")
    assert status == b"HTTP/1.1 431 Request Header Fields Too Large", reply[:200]
    body = json.loads(rest.split(b"\r\n\r\n", 1)[1])
    assert body["error"]["code"] == "headers_too_large"
    time.sleep(0.5)
    assert _rss_mb(server) - before < MAX_RSS_GROWTH_MB
    # and the server goes on serving
    ok = _send_head(server.port, [b"GET /api/v1/time HTTP/1.1\r\nHost: x\r\n"
                                  b"Connection: close\r\n\r\n"], limit_bytes=1 << 20)
    assert ok.startswith(b"HTTP/1.1 200"), ok[:200]


def test_a_large_legitimate_head_and_a_second_request_on_the_connection_pass(server):
    # a tus creation's metadata with a carried manifest line is ~15 KiB at most
    metadata = b"Upload-Metadata: manifest " + b"A" * 16384 + b"\r\n"
    request = (b"GET /api/v1/time HTTP/1.1\r\nHost: x\r\n" + metadata
               + b"Authorization: Bearer " + b"t" * 200 + b"\r\n\r\n")
    assert len(request) < MAX_HEAD_BYTES
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        for _ in range(3):  # keep-alive: each request's head is counted on its own
            s.sendall(request)
            reply = _one_response(s)
            assert reply.startswith(b"HTTP/1.1 200"), reply[:200]
            assert b"server_time_ms" in reply
