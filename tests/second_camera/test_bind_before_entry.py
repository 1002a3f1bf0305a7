"""Binding the phone from the exam card before entering, over HTTP against the real server.

The code belongs to the exam until the candidate enters; the phone waits (no uploads, no
manifest lines), then records into the session the entry created.
"""

from __future__ import annotations

import pytest
import requests

from zhishiyun.api.client import ServerClient
from zhishiyun.api.errors import ApiError
from zhishiyun.api.tokens import MemoryTokenStore
from zhishiyun.exam.second_camera import SecondCameraMonitor

from .conftest import ZHANG, needs_second_camera
from .test_bindings_api import redeem, tus_create

pytestmark = pytest.mark.integration


def phone(url, credential, path, body):
    return requests.post(f"{url}/api/v1/phone/{path}", json=body, timeout=10,
                         headers={"Authorization": f"Bearer {credential}"})


def test_a_phone_bound_from_the_card_waits_then_records_into_the_entered_session(
        phone_server):
    server = phone_server
    client = ServerClient(server.url, token_store=MemoryTokenStore(server.url), retries=1)
    client.store_login(client.login_password(*ZHANG))
    exams = client.exams()
    written = next(e for e in exams if e.kind == "written" and e.state == "open")
    interview = next(e for e in exams if e.kind == "interview")
    needs_second_camera(server, written.id)
    card = SecondCameraMonitor(client, None, exam_id=written.id)
    with pytest.raises(ApiError) as early:
        card.create_code()
    assert early.value.code == "rules_not_accepted"
    with pytest.raises(ApiError) as closed:
        SecondCameraMonitor(client, None, exam_id=interview.id).create_code()
    assert closed.value.code == "entry_not_open", "the interview's entry opens later"

    client.accept(written.id)
    code = card.create_code()
    assert card.poll_once().state == "not_bound" and card.status.code_active
    reply = redeem(server.url, code.code)
    assert reply.status_code == 200, reply.text
    bound = reply.json()
    assert bound["session_id"] is None and bound["exam_name"] == written.name
    credential = bound["credential"]
    beat = phone(server.url, credential, "heartbeat", {"state": "ready"}).json()
    assert beat["session_id"] is None and not beat["finished"]
    assert card.poll_once().state == "bound", "the card sees the phone before entering"
    refused = phone(server.url, credential, "manifest", {
        "seq": 0, "start_ms": 1, "duration_ms": 1000, "bytes": 4, "sha256": "0" * 64})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "not_entered"
    assert tus_create(server.url, credential, "", "phone", b"webm").status_code == 403
    assert card.events == [], "no session, no proctoring events"

    session = client.enter(written.id)
    in_exam = SecondCameraMonitor(client, session.session_id)
    assert in_exam.poll_once().state == "bound", "the binding carried into the exam"
    beat = phone(server.url, credential, "heartbeat", {"state": "ready"}).json()
    assert beat["session_id"] == session.session_id
    created = tus_create(server.url, credential, session.session_id, "phone", b"webm")
    assert created.status_code == 201, created.text
    client.close()
