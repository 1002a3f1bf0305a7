"""Bind codes over HTTP against the real server: single use, expiry, scope of the phone."""

from __future__ import annotations

import base64
import hashlib
import time

import pytest
import requests

from zhishiyun.api.errors import ApiError
from zhishiyun.capture.manifest import verify_manifest
from zhishiyun.exam.second_camera import SecondCameraMonitor

pytestmark = pytest.mark.integration


def redeem(url: str, code: str) -> requests.Response:
    return requests.post(f"{url}/api/v1/phone/redeem", json={"code": code}, timeout=10)


def tus_create(url: str, credential: str, sid: str, track: str, data: bytes) -> requests.Response:
    meta = {"session_id": sid, "track": track, "seq": "0",
            "sha256": hashlib.sha256(data).hexdigest(), "filename": "0.webm"}
    header = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in meta.items())
    return requests.post(f"{url}/files/", timeout=10, headers={
        "Authorization": f"Bearer {credential}", "Tus-Resumable": "1.0.0",
        "Upload-Length": str(len(data)), "Upload-Metadata": header})


def test_a_code_works_once_expires_and_is_replaced_by_a_newer_one(entered):
    server, client, sid, _key = entered
    monitor = SecondCameraMonitor(client, sid)
    first = monitor.create_code()
    assert first.qr_payload == first.url and first.url.startswith(server.url + "/phone/#code=")
    newer = monitor.create_code()
    assert redeem(server.url, first.code).json()["error"]["code"] == "code_expired"
    # What the candidate types may differ in case and separators.
    reply = redeem(server.url, newer.code.lower().replace("-", " "))
    assert reply.status_code == 200, reply.text
    assert reply.json()["session_id"] == sid and reply.json()["track"] == "phone"
    again = redeem(server.url, newer.code)
    assert again.status_code == 409 and again.json()["error"]["code"] == "code_used"
    short = monitor.create_code(ttl_s=1)
    time.sleep(1.3)
    late = redeem(server.url, short.code)
    assert late.status_code == 410 and late.json()["error"]["code"] == "code_expired"
    wrong = redeem(server.url, "ZZZZ-ZZZZ")
    assert wrong.status_code == 404 and wrong.json()["error"]["code"] == "bad_code"
    # Guessing is cut off: after a few dozen wrong codes even a right one waits.
    replies = [redeem(server.url, f"ZZZZ-{n:04d}") for n in range(30)]
    assert replies[-1].status_code == 429 and int(replies[-1].headers["Retry-After"]) > 0
    good = monitor.create_code()
    assert redeem(server.url, good.code).status_code == 429


def test_the_phone_credential_reaches_only_the_phone_track_of_its_session(entered):
    server, client, sid, session_key = entered
    code = SecondCameraMonitor(client, sid).create_code()
    credential = redeem(server.url, code.code).json()["credential"]
    phone = {"Authorization": f"Bearer {credential}"}
    data = b"phone chunk"
    assert tus_create(server.url, credential, sid, "camera", data).status_code == 403
    assert tus_create(server.url, credential, "another-session", "phone", data).status_code == 403
    # Nothing of the candidate's own API opens with it.
    for path in (f"/sessions/{sid}/papers", "/exams", "/me"):
        assert requests.get(f"{server.url}/api/v1{path}", headers=phone,
                            timeout=10).status_code == 401
    # The phone's own chunk: the server signs its manifest line, the upload completes.
    line = requests.post(f"{server.url}/api/v1/phone/manifest", headers=phone, timeout=10,
                         json={"seq": 0, "start_ms": int(time.time() * 1000), "duration_ms": 4000,
                               "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    assert line.status_code == 200, line.text
    created = tus_create(server.url, credential, sid, "phone", data)
    assert created.status_code == 201, created.text
    done = requests.patch(server.url + created.headers["Location"], data=data, timeout=10,
                          headers={**phone, "Tus-Resumable": "1.0.0", "Upload-Offset": "0",
                                   "Content-Type": "application/offset+octet-stream"})
    assert done.status_code == 204, done.text
    tracks = client.recordings(sid).tracks
    assert tracks["phone"].received == [0] and tracks["phone"].chain_ok is True
    # The line verifies with the desktop's session key by the client's own rules.
    assert verify_manifest([line.json()["line"]], session_key).ok
    # A newer bind revokes this phone.
    redeem(server.url, SecondCameraMonitor(client, sid).create_code().code)
    beat = requests.post(f"{server.url}/api/v1/phone/heartbeat", headers=phone, timeout=10,
                         json={"state": "recording"})
    assert beat.status_code == 401 and beat.json()["error"]["code"] == "phone_unbound"


def test_a_finished_session_gives_no_codes(entered):
    _server, client, sid, _key = entered
    client.finish(sid, "candidate_ended")
    with pytest.raises(ApiError) as refused:
        SecondCameraMonitor(client, sid).create_code()
    assert refused.value.code == "session_finished"
