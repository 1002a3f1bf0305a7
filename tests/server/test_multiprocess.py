"""Two server processes, one PostgreSQL, one SeaweedFS: what a load balancer in front sees.

Both processes start together on an empty database (one migrates, the other waits for it).
A tiny proxy written here alternates between them connection by connection (tuspy opens one
per request), so one upload is PATCHed alternately through both; a PATCH through one while
the other still writes the same upload is refused (423/409), never interleaved; and a
process killed in the middle of a PATCH leaves the upload resumable through the other.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from tusclient.client import TusClient

from tests.conftest import RunningServer, require
from tests.server import seaweed
from tests.server.support import fresh_pg_database, pg_url
from tests.upload.conftest import enter_written_exam

pytestmark = pytest.mark.integration
s3, s3_bucket = seaweed.s3, seaweed.s3_bucket  # the fixtures
TUS = {"Tus-Resumable": "1.0.0"}
MIB = 1024 * 1024


class AlternatingProxy:
    """Forwards each new TCP connection to the next backend in turn (round robin)."""

    def __init__(self, ports: list[int]) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._next = itertools.cycle(ports)
        self.counts = {port: 0 for port in ports}
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            port = next(self._next)
            self.counts[port] += 1
            upstream = socket.create_connection(("127.0.0.1", port))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(1 << 16):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def pair(tmp_path_factory, s3_bucket):
    """Two servers started at the same moment on one empty PostgreSQL and one bucket."""
    if pg_url() is None:
        require("PostgreSQL", "ZHISHIYUN_TEST_PG_URL is not set (start_postgres)")
    env = {**s3_bucket["env"], "ZHISHIYUN_SERVER_STORAGE": s3_bucket["storage"]}
    with fresh_pg_database() as url:
        servers = [RunningServer(data_dir=tmp_path_factory.mktemp(f"machine-{i}"), db_url=url,
                                 demo=(i == 0), env=env) for i in range(2)]
        failures = []

        def start(server):
            try:
                server.start(timeout=90)
            except RuntimeError as exc:
                failures.append(exc)

        threads = [threading.Thread(target=start, args=(s,)) for s in servers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        try:
            assert not failures, failures  # neither died in the migrations
            yield servers
        finally:
            for server in servers:
                server.stop()


def _segment(tmp_path, size: int):
    data = os.urandom(size)
    path = tmp_path / "seg.mp4"
    path.write_bytes(data)
    return path, data, hashlib.sha256(data).hexdigest()


def _meta(entered, seq: int, sha256: str) -> dict:
    return {"session_id": entered.session_id, "track": "screen", "seq": str(seq),
            "sha256": sha256, "filename": f"{seq:06d}.mp4"}


def _stored_sha256(s3_bucket, upload_id: str) -> str:
    body = s3_bucket["client"].get_object(Bucket=s3_bucket["bucket"],
                                          Key=f"uploads/{upload_id}")["Body"].read()
    return hashlib.sha256(body).hexdigest()


def _stalled_patch(base: str, path: str, auth: str, offset: int, total: int,
                   sent: bytes) -> socket.socket:
    host, port = base.split("//")[1].split(":")
    head = (f"PATCH {path} HTTP/1.1\r\nHost: {host}\r\nTus-Resumable: 1.0.0\r\n"
            f"Authorization: {auth}\r\nContent-Type: application/offset+octet-stream\r\n"
            f"Upload-Offset: {offset}\r\nContent-Length: {total}\r\n\r\n").encode()
    sock = socket.create_connection((host, int(port)))
    sock.sendall(head + sent)
    return sock


def test_one_upload_patched_alternately_through_both_processes(pair, s3_bucket, tmp_path):
    proxy = AlternatingProxy([server.port for server in pair])
    try:
        entered = enter_written_exam(proxy.url)
        path, data, sha256 = _segment(tmp_path, 6 * MIB + 777)
        before = dict(proxy.counts)
        uploader = TusClient(entered.upload_url, headers=entered.auth).uploader(
            str(path), chunk_size=1 * MIB, metadata=_meta(entered, 0, sha256))
        uploader.upload()
        used = {port: proxy.counts[port] - before[port] for port in proxy.counts}
        assert all(count >= 3 for count in used.values()), used  # both wrote chunks
        track = entered.client.recordings(entered.session_id).tracks["screen"]
        assert track.received == [0] and track.bytes == len(data)
        assert _stored_sha256(s3_bucket, uploader.url.rsplit("/", 1)[1]) == sha256
    finally:
        proxy.close()


def test_a_concurrent_patch_through_the_other_process_is_refused(pair, s3_bucket, tmp_path):
    first, second = pair
    entered = enter_written_exam(first.url)
    path, data, sha256 = _segment(tmp_path, 2 * MIB)
    created = requests.post(f"{first.url}/files/", timeout=10, headers={
        **TUS, **entered.auth, "Upload-Length": str(len(data)), "Upload-Metadata": ",".join(
            f"{k} {base64.b64encode(v.encode()).decode()}"
            for k, v in _meta(entered, 0, sha256).items())})
    assert created.status_code == 201
    location = created.headers["Location"]
    stalled = _stalled_patch(first.url, location, entered.auth["Authorization"], 0,
                             len(data), data[:MIB])  # the first process is still writing
    time.sleep(1.0)
    patch = {**TUS, **entered.auth, "Upload-Offset": "0",
             "Content-Type": "application/offset+octet-stream"}
    resp = requests.patch(second.url + location, data=b"x" * len(data), headers=patch,
                          timeout=30)
    assert resp.status_code in (409, 423), resp.text  # never a second writer beside it
    stalled.sendall(data[MIB:])  # the first one finishes its PATCH normally
    assert b"204" in stalled.recv(4096).split(b"\r\n")[0]
    stalled.close()
    head = requests.head(second.url + location, headers={**TUS, **entered.auth}, timeout=10)
    assert head.headers["Upload-Offset"] == str(len(data))
    assert _stored_sha256(s3_bucket, location.rsplit("/", 1)[1]) == sha256


def test_a_process_killed_mid_patch_leaves_the_upload_resumable_elsewhere(
        pair, s3_bucket, tmp_path):
    first, second = pair
    entered = enter_written_exam(second.url)
    path, data, sha256 = _segment(tmp_path, 3 * MIB)
    uploader = TusClient(first.url + "/files/", headers=entered.auth).uploader(
        str(path), chunk_size=MIB, metadata=_meta(entered, 0, sha256))
    uploader.upload_chunk()  # 1 MiB committed through the first process
    location = "/files/" + uploader.url.rsplit("/", 1)[1]
    # More than a batch of the body: the first process has taken the lease and writes.
    stalled = _stalled_patch(first.url, location, entered.auth["Authorization"], MIB,
                             2 * MIB, data[MIB:2 * MIB + 300_000])
    time.sleep(1.0)
    first.kill()  # SIGKILL in the middle of the PATCH: its lease is never given back
    stalled.close()

    deadline = time.monotonic() + 60
    headers = {**TUS, **entered.auth}
    refused = []
    while True:  # the client's resume, through the surviving process, as tuspy retries
        offset = int(requests.head(second.url + location, headers=headers,
                                   timeout=10).headers["Upload-Offset"])
        resp = requests.patch(second.url + location, data=data[offset:], timeout=30, headers={
            **headers, "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream"})
        if resp.status_code == 204 or time.monotonic() > deadline:
            break
        assert resp.status_code in (409, 423), resp.text
        refused.append(resp.status_code)
        time.sleep(float(resp.headers.get("Retry-After", "1")))
    assert resp.status_code == 204, resp.text
    assert 423 in refused  # the dead process's lease held the upload until it expired
    assert offset == MIB  # only what the killed process never committed is sent again
    track = entered.client.recordings(entered.session_id).tracks["screen"]
    assert track.received == [0] and track.bytes == len(data)
    assert _stored_sha256(s3_bucket, location.rsplit("/", 1)[1]) == sha256


def test_racing_creations_through_both_processes_stay_within_the_session_budget(pair):
    first, second = pair
    entered = enter_written_exam(first.url)
    limits = requests.get(f"{first.url}/api/v1/config", timeout=10).json()["upload"]
    size, budget = limits["max_upload_bytes"], limits["max_session_bytes"]
    fits = budget // size

    def create(seq: int) -> int:
        meta = {**_meta(entered, seq, "0" * 64), "track": "race"}
        return requests.post(f"{pair[seq % 2].url}/files/", timeout=60, headers={
            **TUS, **entered.auth, "Upload-Length": str(size), "Upload-Metadata": ",".join(
                f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in meta.items())}
        ).status_code

    with ThreadPoolExecutor(3 * fits) as pool:  # all at once, half through each process
        statuses = list(pool.map(create, range(3 * fits)))
    assert set(statuses) <= {201, 413}, statuses
    assert statuses.count(201) == fits  # as many as fit, and not one more


def test_workers_serve_one_upload_from_several_processes(tmp_path, s3_bucket):
    """``zhishiyun-server --workers 2``: two worker processes share the port; uploads arrive."""
    import subprocess
    import sys

    import psutil

    from tests.conftest import REPO, free_port

    if pg_url() is None:
        require("PostgreSQL", "ZHISHIYUN_TEST_PG_URL is not set (start_postgres)")
    port = free_port()
    with fresh_pg_database() as url, open(tmp_path / "server.log", "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "zhishiyun_server", "--db", url, "--data",
             str(tmp_path / "data"), "--port", str(port), "--demo", "--workers", "2",
             "--storage", s3_bucket["storage"]], stdout=log, stderr=subprocess.STDOUT,
            cwd=REPO, env={**os.environ, **s3_bucket["env"]})
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if requests.get(base + "/api/v1/health", timeout=1).ok:
                        break
                except requests.RequestException:
                    time.sleep(0.3)
            workers = psutil.Process(server.pid).children(recursive=True)
            assert len([p for p in workers if "python" in p.name().lower()]) >= 2
            entered = enter_written_exam(base)
            path, data, sha256 = _segment(tmp_path, 3 * MIB)
            uploader = TusClient(entered.upload_url, headers=entered.auth).uploader(
                str(path), chunk_size=MIB // 2, metadata=_meta(entered, 0, sha256))
            uploader.upload()
            track = entered.client.recordings(entered.session_id).tracks["screen"]
            assert track.received == [0] and track.bytes == len(data)
            assert _stored_sha256(s3_bucket, uploader.url.rsplit("/", 1)[1]) == sha256
        finally:
            server.terminate()
            server.wait(20)
