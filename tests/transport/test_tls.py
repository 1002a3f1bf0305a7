"""The real server over TLS with a private CA: everything works with ``ca_bundle``; without
it every road ends in the same clear "certificate not trusted" message, and nothing hangs."""

from __future__ import annotations

import json
import time

import pytest

from tests.transport.conftest import zhishiyun
from tests.update.conftest import publish, write_private_key
from tests.upload.conftest import ZHANG, write_segments
from zhishiyun.api import ApiError, ServerClient
from zhishiyun.api.errors import MESSAGES
from zhishiyun.api.tokens import MemoryTokenStore
from zhishiyun.auth.face_client import FaceClient
from zhishiyun.config import load_settings
from zhishiyun.update import UpdateError, UpdateKind, Updater
from zhishiyun.upload.queue import DONE, PENDING, UploadQueue
from zhishiyun.upload.session import SessionUploads
from zhishiyun.upload.worker import UploadWorker

pytestmark = pytest.mark.integration
UNTRUSTED = MESSAGES["tls"]


def settings_for(server, tmp_path, *, trusted: bool):
    values = {"server_url": server.url, "data_dir": str(tmp_path / "data")}
    if trusted:
        values["ca_bundle"] = str(server.ca)
    return load_settings(values)


def checks(server, *, trusted: bool) -> tuple[dict, int, float]:
    extra = {"ca_bundle": str(server.ca)} if trusted else {}
    done, seconds = zhishiyun("check", "--headless", "--json", "--only", "server,version",
                              "--server", server.url, timeout=60, **extra)
    report = json.loads(done.stdout)
    return {c["id"]: c for c in report["checks"]}, done.returncode, seconds


def test_checks_trust_the_organisations_ca_and_say_exactly_why_without_it(tls_server):
    results, code, _seconds = checks(tls_server, trusted=True)
    assert code == 0, results
    assert results["server"]["status"] == "pass" and results["version"]["status"] == "pass"

    results, code, seconds = checks(tls_server, trusted=False)
    assert code == 1
    assert results["server"]["status"] == "fail"
    assert results["server"]["details"]["error"] == "certificate_not_trusted"
    assert results["server"]["message"] == UNTRUSTED
    assert "ca_bundle" in results["server"]["message"]
    assert results["version"]["status"] == "skip"
    assert seconds < 30


def _publish_release(server, tmp_path):
    key_file = tmp_path / "release.pem"
    key = write_private_key(key_file)
    setup = tmp_path / "ZhishiyunSetup.run"
    setup.write_bytes(b"#!/bin/sh\nexit 0\n")
    publish(server, file=setup, url=f"{server.url}/downloads/setup.run", key=key_file,
            version="99.0.0", minimum="0.0.1")
    return key.public_key()


def test_login_recording_upload_attachment_update_over_the_private_ca(tls_server, tmp_path):
    settings = settings_for(tls_server, tmp_path, trusted=True)
    client = ServerClient.from_settings(settings, token_store=MemoryTokenStore())
    client.login_password(*ZHANG)
    exam = next(e for e in client.exams() if e.kind == "written" and e.attachments
                and e.state in ("open", "in_progress"))
    client.accept(exam.id)
    entered = client.enter(exam.id)

    saved = client.save_attachment(exam.attachments[0], tmp_path / "attachments")
    assert saved.stat().st_size == exam.attachments[0].size > 0

    session_dir = tmp_path / entered.session_id
    write_segments(session_dir, entered.session_key, "camera", [300_000, 200_000, 100_000])
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
    assert client.recordings(entered.session_id).tracks["camera"].received == [0, 1, 2]

    public_key = _publish_release(tls_server, tmp_path)
    offer = Updater.from_settings(settings, public_key=public_key, platform="linux").check()
    assert offer.kind is UpdateKind.OPTIONAL and offer.version == "99.0.0"

    challenge_or_refusal = None
    try:
        challenge_or_refusal = FaceClient.from_settings(settings).challenge("李四",
                                                                            "440304199508150021")
    except ApiError as exc:  # a server without a face engine refuses; TLS still worked
        assert exc.code != "tls"
        challenge_or_refusal = exc
    assert challenge_or_refusal is not None


def test_without_the_ca_bundle_every_road_reports_an_untrusted_certificate(tls_server,
                                                                            tmp_path):
    settings = settings_for(tls_server, tmp_path, trusted=False)
    started = time.monotonic()
    client = ServerClient.from_settings(settings, token_store=MemoryTokenStore())
    for call in (lambda: client.login_password(*ZHANG), client.health):
        with pytest.raises(ApiError) as caught:
            call()
        assert caught.value.code == "tls" and caught.value.message == UNTRUSTED

    with pytest.raises(ApiError) as caught:
        FaceClient.from_settings(settings).challenge("李四", "440304199508150021")
    assert caught.value.message == UNTRUSTED

    with pytest.raises(UpdateError) as caught:
        Updater.from_settings(settings, platform="linux").check()
    assert caught.value.code == "tls" and caught.value.message == UNTRUSTED

    # the attachment download uses the same road; a logged-in session from a trusted client
    trusted = ServerClient.from_settings(settings_for(tls_server, tmp_path, trusted=True),
                                         token_store=MemoryTokenStore())
    trusted.login_password(*ZHANG)
    exam = next(e for e in trusted.exams() if e.kind == "written" and e.attachments)
    client.store_login(trusted.login_password(*ZHANG))
    with pytest.raises(ApiError) as caught:
        client.save_attachment(exam.attachments[0], tmp_path / "attachments")
    assert caught.value.code == "tls"
    assert not list((tmp_path / "attachments").glob("*"))
    assert time.monotonic() - started < 30  # nothing is retried as if the network were down


def test_uploads_wait_as_certificate_untrusted_instead_of_retrying(tls_server, tmp_path):
    trusted = ServerClient.from_settings(settings_for(tls_server, tmp_path, trusted=True),
                                         token_store=MemoryTokenStore())
    trusted.login_password(*ZHANG)
    exam = next(e for e in trusted.exams() if e.kind == "written"
                and e.state in ("open", "in_progress"))
    trusted.accept(exam.id)
    entered = trusted.enter(exam.id)
    session_dir = tmp_path / entered.session_id
    write_segments(session_dir, entered.session_key, "screen", [50_000])
    queue = UploadQueue(tmp_path / "q.sqlite3")
    SessionUploads(queue, entered.session_id, entered.upload_url, trusted.api_url,
                   session_dir).enqueue_session_dir()

    untrusted = ServerClient.from_settings(settings_for(tls_server, tmp_path, trusted=False),
                                           token_store=MemoryTokenStore())
    waits: list[tuple[str, float]] = []
    worker = UploadWorker(queue, trusted.tokens.get, transport=untrusted.transport)
    worker.worker_did_wait.append(lambda reason, seconds: waits.append((reason, seconds)))
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while not waits and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # a spinning worker would try again and again meanwhile
        attempts = [i.attempts for i in queue.items()]
    finally:
        worker.stop()
    assert waits and waits[0] == ("certificate_untrusted", float("inf"))
    assert len(waits) == 1
    assert {i.state for i in queue.items()} == {PENDING}
    assert {i.reason for i in queue.items()} == {"certificate_untrusted"}
    assert sum(attempts) == 1  # one try; everything for that server then waits


def test_zhishiyun_upload_says_the_certificate_is_not_trusted_and_stops(tls_server, tmp_path,
                                                                        capsys):
    import argparse

    from zhishiyun import paths
    from zhishiyun.api.tokens import TokenStore
    from zhishiyun.upload import command

    settings = settings_for(tls_server, tmp_path, trusted=False)
    trusted = ServerClient.from_settings(settings_for(tls_server, tmp_path, trusted=True),
                                         token_store=MemoryTokenStore())
    trusted.login_password(*ZHANG)
    exam = next(e for e in trusted.exams() if e.kind == "written"
                and e.state in ("open", "in_progress"))
    trusted.accept(exam.id)
    entered = trusted.enter(exam.id)
    session_dir = tmp_path / "data" / "sessions" / entered.session_id
    write_segments(session_dir, entered.session_key, "cmd", [20_000])
    queue = UploadQueue(paths.queue_db(settings.data_path))
    SessionUploads(queue, entered.session_id, entered.upload_url, trusted.api_url,
                   session_dir).enqueue_session_dir()
    queue.close()
    TokenStore(tls_server.url).set(trusted.token)  # as after a login in the app

    started = time.monotonic()
    code = command.run(argparse.Namespace(wait=True), settings)  # --wait: still stops
    out = capsys.readouterr().out
    assert code == 1
    assert UNTRUSTED in out
    assert time.monotonic() - started < 30
    queue = UploadQueue(paths.queue_db(settings.data_path))
    assert {i.reason for i in queue.items()} == {"certificate_untrusted"}
