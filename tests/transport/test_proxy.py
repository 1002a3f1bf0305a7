"""Through a real HTTP proxy (tinyproxy): API calls, tus PATCHes, face and update calls all
take the ``proxy`` setting; the proxy's own log shows each of them."""

from __future__ import annotations

import json

import pytest

from tests.transport.conftest import zhishiyun
from tests.upload.conftest import ZHANG, write_segments
from zhishiyun.api import ApiError, ServerClient
from zhishiyun.api.tokens import MemoryTokenStore
from zhishiyun.auth.face_client import FaceClient
from zhishiyun.config import load_settings
from zhishiyun.update import UpdateError, Updater
from zhishiyun.upload.queue import DONE, UploadQueue
from zhishiyun.upload.session import SessionUploads
from zhishiyun.upload.worker import UploadWorker

pytestmark = pytest.mark.integration


def test_every_road_goes_through_the_configured_proxy(demo_server, tinyproxy, tmp_path):
    settings = load_settings({"server_url": demo_server.url, "proxy": tinyproxy.url,
                              "data_dir": str(tmp_path / "data")})
    client = ServerClient.from_settings(settings, token_store=MemoryTokenStore())
    client.login_password(*ZHANG)
    exam = next(e for e in client.exams() if e.kind == "written"
                and e.state in ("open", "in_progress"))
    client.accept(exam.id)
    entered = client.enter(exam.id)
    client.save_attachment(exam.attachments[0], tmp_path / "attachments")

    session_dir = tmp_path / entered.session_id
    # Two segments queued at once: their lines are posted (one alone would travel with its
    # segment's creation), so the manifest road is taken too.
    write_segments(session_dir, entered.session_key, "proxied", [400_000, 1_000])
    queue = UploadQueue(tmp_path / "q.sqlite3")
    SessionUploads(queue, entered.session_id, entered.upload_url, client.api_url,
                   session_dir).enqueue_session_dir()
    worker = UploadWorker(queue, lambda: client.token, transport=client.transport)
    worker.start()
    try:
        assert worker.wait_idle(60)
    finally:
        worker.stop()
    assert {i.state for i in queue.items()} == {DONE}

    try:
        FaceClient.from_settings(settings).challenge("李四", "440304199508150021")
    except ApiError as exc:  # refused or no face engine: the call still went via the proxy
        assert exc.status >= 400
    try:
        Updater.from_settings(settings, platform="linux").check()
    except UpdateError:  # the demo publishes no release; the call still went via the proxy
        pass

    api = "/api/v1"
    assert tinyproxy.saw("POST", f"{api}/auth/password")
    assert tinyproxy.saw("GET", f"{api}/exams")
    assert tinyproxy.saw("GET", f"{api}/exams/{exam.id}/attachments/")
    assert tinyproxy.saw("POST", f"{api}/sessions/{entered.session_id}/manifest")
    assert tinyproxy.saw("POST", "/files")
    assert tinyproxy.saw("PATCH", "/files/")
    assert tinyproxy.saw("POST", f"{api}/auth/face/challenge")
    assert tinyproxy.saw("GET", f"{api}/client/release")


def test_the_checks_go_through_the_proxy_too(demo_server, tinyproxy):
    done, _seconds = zhishiyun("check", "--headless", "--json", "--only", "server,version",
                               "--server", demo_server.url, timeout=60, proxy=tinyproxy.url)
    results = {c["id"]: c for c in json.loads(done.stdout)["checks"]}
    assert results["server"]["status"] == "pass", results
    assert tinyproxy.saw("GET", "/api/v1/health")
    assert tinyproxy.saw("GET", "/api/v1/client/release")


def test_https_through_the_proxy_with_the_organisations_ca(tls_server, tmp_path):
    from urllib.parse import urlsplit

    from tests.transport.conftest import start_tinyproxy

    port = urlsplit(tls_server.url).port
    proxy, process = start_tinyproxy(tmp_path, connect_ports=(port,))
    try:
        settings = load_settings({"server_url": tls_server.url, "proxy": proxy.url,
                                  "ca_bundle": str(tls_server.ca)})
        client = ServerClient.from_settings(settings, token_store=MemoryTokenStore())
        client.login_password(*ZHANG)
        assert client.exams()
    finally:
        process.terminate()
        process.wait(10)
    assert proxy.saw("CONNECT", f"127.0.0.1:{port}")


def test_the_setting_wins_over_the_environment_which_applies_without_it(demo_server, tinyproxy,
                                                                         monkeypatch):
    from tests.conftest import free_port

    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")  # nothing listens
    configured = ServerClient.from_settings(
        load_settings({"server_url": demo_server.url, "proxy": tinyproxy.url}),
        token_store=MemoryTokenStore())
    assert configured.health().status == "ok"

    monkeypatch.setenv("HTTP_PROXY", tinyproxy.url)  # no setting: the environment's proxy
    before = len([line for line in tinyproxy.lines() if "/api/v1/config" in line])
    plain = ServerClient.from_settings(load_settings({"server_url": demo_server.url}),
                                       token_store=MemoryTokenStore())
    assert plain.config().org_name
    assert len([line for line in tinyproxy.lines() if "/api/v1/config" in line]) > before
