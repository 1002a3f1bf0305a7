"""The tus router on its own (local-disk storage, no accounts), served by uvicorn on
127.0.0.1: a stalled PATCH is cut off after the idle time, and a resuming client never
writes while the stalled one still holds the upload."""

from __future__ import annotations

import base64
import hashlib
import socket
import threading
import time

import pytest
import requests
import uvicorn
from fastapi import FastAPI

from tests.conftest import free_port
from zhishiyun_server.tus import protocol, receive
from zhishiyun_server.tus.storage import LocalDiskStorage

pytestmark = pytest.mark.integration
TUS = {"Tus-Resumable": "1.0.0"}


@pytest.fixture
def tus_url(tmp_path, monkeypatch):
    monkeypatch.setattr(receive, "IDLE_S", 1.0)
    app = FastAPI()
    app.include_router(protocol.build_tus_router(LocalDiskStorage(tmp_path / "uploads")))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}/files/"
    server.should_exit = True
    thread.join(10)


def stalled_patch(url: str, offset: int, sent: bytes, total: int,
                  checksum: str = "") -> socket.socket:
    """Send a PATCH's headers and the first bytes of its body, then nothing more."""
    host, port = url.split("//")[1].split("/")[0].split(":")
    path = "/" + url.split("//")[1].split("/", 1)[1]
    extra = f"Upload-Checksum: {checksum}\r\n" if checksum else ""
    head = (f"PATCH {path} HTTP/1.1\r\nHost: {host}\r\nTus-Resumable: 1.0.0\r\n"
            f"Content-Type: application/offset+octet-stream\r\nUpload-Offset: {offset}\r\n"
            f"Content-Length: {total}\r\n{extra}\r\n").encode()
    sock = socket.create_connection((host, int(port)))
    sock.sendall(head + sent)
    return sock


def create(url: str, length: int) -> str:
    resp = requests.post(url, headers={**TUS, "Upload-Length": str(length)}, timeout=5)
    assert resp.status_code == 201
    return requests.compat.urljoin(url, resp.headers["Location"])


def offset(url: str) -> int:
    return int(requests.head(url, headers=TUS, timeout=10).headers["Upload-Offset"])


def test_a_stalled_chunk_with_checksum_is_dropped_and_the_resume_waits_for_it(
        tus_url, tmp_path):
    data = bytes(range(256)) * 400
    upload = create(tus_url, len(data))
    digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
    stalled = stalled_patch(upload, 0, b"\0" * 1000, len(data), f"sha256 {digest}")
    time.sleep(0.2)
    # The resuming client asks where to go on and sends everything while the stalled
    # request still holds the upload: it must wait, not write beside it.
    assert offset(upload) == 0
    resp = requests.patch(upload, data=data, timeout=10, headers={
        **TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream",
        "Upload-Checksum": f"sha256 {digest}"})
    assert resp.status_code == 204 and offset(upload) == len(data)
    time.sleep(1.5)  # long after the stalled request was cut off and cleaned up
    [stored] = (tmp_path / "uploads").glob("*.bin")
    assert hashlib.sha256(stored.read_bytes()).digest() == hashlib.sha256(data).digest()
    stalled.close()


def test_a_stalled_chunk_without_checksum_keeps_what_arrived(tus_url):
    upload = create(tus_url, 100_000)
    stalled = stalled_patch(upload, 0, b"x" * 3000, 100_000)
    time.sleep(1.5)
    assert offset(upload) == 3000
    stalled.close()
