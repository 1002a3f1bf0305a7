"""Evidence on the server: missing tails, unsigned segments, late lines, phone lines."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import requests

from tests.integrity.support import (
    Lines,
    login,
    open_written_exam,
    report,
    segment_bytes,
    tus_upload,
)


@pytest.fixture
def server(server_factory):
    return server_factory(demo=True)


@pytest.fixture
def entered(server):
    client = login(server.url)
    session = client.enter(open_written_exam(client))
    return client, session


def _recordings(server, client, session_id: str) -> dict:
    reply = requests.get(f"{server.url}/api/v1/sessions/{session_id}/recordings",
                         headers=client.auth_headers(), timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()["tracks"]


def test_finish_naming_seq_5_when_0_to_3_arrived_reports_4_and_5_missing(server, entered):
    client, session = entered
    lines = Lines(session.session_key)
    for seq in range(4):
        data = segment_bytes(seq)
        client.post_manifest(session.session_id, [lines.line("camera", seq, data)])
        tus_upload(session.upload_url, client, session.session_id, "camera", seq, data)
    assert _recordings(server, client, session.session_id)["camera"]["missing"] == []

    reply = requests.post(f"{server.url}/api/v1/sessions/{session.session_id}/finish",
                          json={"reason": "candidate_ended", "last_seq": {"camera": 5}},
                          headers=client.auth_headers(), timeout=10)
    assert reply.status_code == 200, reply.text

    camera = _recordings(server, client, session.session_id)["camera"]
    assert camera["received"] == [0, 1, 2, 3]
    assert camera["missing"] == [4, 5]
    assert camera["last_seq"] == 5
    assert camera["chain_ok"] is True
    track = report(server, session.session_id)["tracks"]["camera"]
    assert (track["received"], track["missing"], track["chain_ok"]) == (4, [4, 5], True)


def test_a_segment_without_a_manifest_line_is_unsigned(server, entered):
    client, session = entered
    lines = Lines(session.session_key)
    signed = segment_bytes(0)
    client.post_manifest(session.session_id, [lines.line("screen", 0, signed)])
    tus_upload(session.upload_url, client, session.session_id, "screen", 0, signed)
    tus_upload(session.upload_url, client, session.session_id, "screen", 1, segment_bytes(1))

    screen = _recordings(server, client, session.session_id)["screen"]
    assert screen["received"] == [0, 1]
    assert screen["unsigned"] == [1]
    assert report(server, session.session_id)["tracks"]["screen"]["unsigned"] == [1]


def test_a_line_long_after_its_segment_closed_is_late_with_how_late(server, entered):
    client, session = entered
    lines = Lines(session.session_key)
    two_hours_ago = datetime.now(timezone.utc) - timedelta(hours=2)
    client.post_manifest(session.session_id, [
        lines.line("camera", 0, segment_bytes(0), start=two_hours_ago),
        lines.line("camera", 1, segment_bytes(1))])

    late = _recordings(server, client, session.session_id)["camera"]["late"]
    assert [x["seq"] for x in late] == [0]
    assert 7100 < late[0]["late_s"] < 7300  # two hours, less the 30 s segment


def test_the_candidate_cannot_post_a_phone_line(server, entered):
    client, session = entered
    line = Lines(session.session_key).line("phone", 0, segment_bytes(0))
    reply = requests.post(f"{server.url}/api/v1/sessions/{session.session_id}/manifest",
                          json={"lines": [line]}, headers=client.auth_headers(), timeout=10)
    assert reply.status_code == 422
    assert reply.json()["error"]["code"] == "phone_line_not_server_signed"
    assert "phone" not in _recordings(server, client, session.session_id)
