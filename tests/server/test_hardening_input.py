"""Bad input at the edge is a 4xx with an error code, never a 500 (real server over HTTP)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import pytest
import requests

from tests.server.hardening import Inside, enter, tus_create, tus_patch
from tests.server.support import running_server

STARTED = {"ZHISHIYUN_DEMO_WRITTEN_START_DELAY_S": "0"}


@pytest.fixture(scope="module")
def inside(tmp_path_factory) -> Inside:
    with running_server(tmp_path_factory, env=STARTED) as server:
        yield enter(server.url)


def code(resp: requests.Response) -> tuple[int, str]:
    return resp.status_code, resp.json()["error"]["code"]


@pytest.mark.parametrize("path", [
    "/exams/99999999999999999999999",
    "/exams/9223372036854775808/accept",
    "/exams/2147483648",
    "/messages/-99999999999999999999999/read",
])
def test_integers_beyond_64_bits_in_paths_are_refused(inside, path):
    method = "GET" if path.count("/") == 2 else "POST"
    assert code(inside.api(method, path)) == (422, "invalid_request")


def test_a_version_beyond_the_column_is_refused_and_a_sane_one_stored(inside):
    path = f"/sessions/{inside.session_id}/answers/q1"
    assert code(inside.api("PUT", path, json={"version": 2**70, "content": "x"})) == (
        422, "invalid_request")
    assert code(inside.api("PUT", path, json={"version": 2**40, "content": "x"})) == (
        422, "invalid_request")
    assert inside.api("PUT", path, json={"version": 3, "content": "x"}).json()["version"] == 3


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
                                "1970-01-01T00:00:00Z"])
def test_event_times_outside_the_calendar_or_far_from_now_are_refused(inside, at):
    body = {"events": [{"id": f"e-{at}", "kind": "focus_lost", "at": at}]}
    assert code(inside.api("POST", f"/sessions/{inside.session_id}/events", json=body)) == (
        422, "invalid_request")


@pytest.mark.parametrize("raw", [
    b'{"events": [{"id": "s1", "kind": "\\ud800", "at": "2026-01-01T00:00:00Z"}]}',
    b'{"events": [{"id": "s2", "kind": "a\\u0000b", "at": "2026-01-01T00:00:00Z"}]}',
    b'{"events": [{"id": "s3", "kind": "k", "at": "2026-01-01T00:00:00Z", '
    b'"details": {"n": 123456789012345678901234567890}}]}',
    b'{"events": [{"id": "s4", "kind": "k", "at": "2026-01-01T00:00:00Z", '
    b'"details": {"n": NaN}}]}',
    b'{"events": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    b'{"events": [{"id": "s5", "kind": "\xff\xfe", "at": "2026-01-01T00:00:00Z"}]}',
])
def test_json_bodies_with_unstorable_text_or_numbers_are_refused(inside, raw):
    resp = inside.api("POST", f"/sessions/{inside.session_id}/events", data=raw,
                      headers={"Content-Type": "application/json"})
    assert code(resp) == (422, "invalid_request")


def _event_with(details: str) -> bytes:
    """An event body whose ``details`` is the raw JSON text ``details``, timed now."""
    event_id = "edge-" + hashlib.sha256(details.encode()).hexdigest()[:12]
    at = datetime.now(timezone.utc).isoformat()
    return (f'{{"events": [{{"id": "{event_id}", "kind": "k", "at": "{at}", '
            f'"details": {details}}}]}}').encode()


def _post_raw(inside: Inside, raw: bytes) -> requests.Response:
    return inside.api("POST", f"/sessions/{inside.session_id}/events", data=raw,
                      headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("details", [
    '{"n": 9223372036854775808}',  # 2**63: the first integer with 19 digits past the limit
    '{"n": -9223372036854775809}',
    '{"n": 0, "m": 99999999999999999999}',
    '{"d": ' + "[" * 30 + "]" * 30 + "}",  # 34 containers in all: one level too deep
    '{"t": "\\\\\\u0000"}',  # an escaped backslash, then an escaped NUL
    '{"\\ud83d": 1}',  # a lone surrogate as a key
])
def test_bodies_just_past_a_limit_are_refused(inside, details):
    assert code(_post_raw(inside, _event_with(details))) == (422, "invalid_request")


@pytest.mark.parametrize("details", [
    '{"n": 9223372036854775807, "m": -9223372036854775808}',
    '{"d": ' + "[" * 29 + "]" * 29 + "}",  # 33 containers: as deep as allowed
    '{"t": "\\\\u0000 is how JSON writes a NUL", "e": "\\u00e9\\ud83d\\ude00"}',
    '{"t": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[{{{{{{{{{{"}',
])
def test_bodies_at_a_limit_are_stored(inside, details):
    resp = _post_raw(inside, _event_with(details))
    assert resp.status_code == 200, resp.text


def test_nul_in_a_path_or_query_is_refused(inside):
    assert code(inside.api("GET", "/sessions/abc%00def/papers")) == (400, "invalid_request")
    assert code(inside.api("GET", "/client/release?platform=linux%00")) == (
        400, "invalid_request")


def test_a_chunked_body_without_length_is_held_to_the_body_limit(inside):
    def chunks():
        for _ in range(25):
            yield b"x" * (1024 * 1024)

    resp = inside.api("POST", "/speedtest", data=chunks())
    assert code(resp) == (413, "too_large")


@pytest.mark.parametrize("seq", ["²", "١٢", "٣", "+3", " 3", "3_0", "007", "100001",
                                 "99999999999999999999999"])
def test_tus_seq_must_be_canonical_ascii_digits_in_range(inside, seq):
    resp = tus_create(inside, 10, seq=seq)
    assert code(resp) == (400, "bad_metadata")


@pytest.mark.parametrize("header", ["Upload-Length", "Upload-Offset"])
@pytest.mark.parametrize("value", ["١٢", "²", "99999999999999999999999", "-1", "1e3"])
def test_tus_numbers_in_headers_are_ascii_and_64_bit(inside, header, value):
    if header == "Upload-Length":
        resp = requests.post(f"{inside.url}/files/", timeout=30, headers={
            "Tus-Resumable": "1.0.0", **inside.auth, "Upload-Length": value.encode("utf-8"),
            "Upload-Metadata": ""})
    else:
        location = tus_create(inside, 4, seq="7",
                              sha256=hashlib.sha256(b"abcd").hexdigest()).headers["Location"]
        resp = requests.patch(f"{inside.url}{location}", data=b"abcd", timeout=30, headers={
            "Tus-Resumable": "1.0.0", **inside.auth, "Upload-Offset": value.encode("utf-8"),
            "Content-Type": "application/offset+octet-stream"})
        assert tus_patch(inside, location, 0, b"abcd").status_code == 204
    assert code(resp) == (400, "bad_header")


def test_tus_metadata_with_nul_or_huge_size_is_refused(inside):
    assert code(tus_create(inside, 10, seq="1", filename="a\x00b")) == (400, "bad_metadata")
    assert code(tus_create(inside, 10, seq="1", filename="x" * 20000)) == (400, "bad_metadata")


def test_phone_numbers_the_server_would_sign_are_bounded(inside):
    resp = inside.api("POST", f"/sessions/{inside.session_id}/bindings", json={})
    assert resp.status_code == 200, resp.text
    bind = requests.post(f"{inside.url}/api/v1/phone/redeem", json={"code": resp.json()["code"]},
                         timeout=30).json()
    phone = {"Authorization": f"Bearer {bind['credential']}"}
    base = {"seq": 0, "duration_ms": 1000, "bytes": 10, "sha256": "a" * 64}
    for bad in ({"start_ms": 10**20}, {"start_ms": 10**15}, {"bytes": 10**18}):
        body = {**base, "start_ms": bind["server_time_ms"], **bad}
        reply = requests.post(f"{inside.url}/api/v1/phone/manifest", json=body, headers=phone,
                              timeout=30)
        assert reply.status_code == 422, (bad, reply.text)


def test_an_unexpected_error_is_a_500_with_a_request_id_and_no_internals(tmp_path, caplog):
    from fastapi.testclient import TestClient

    from zhishiyun_server.app import create_app
    from zhishiyun_server.settings import ServerConfig

    app = create_app(ServerConfig(data_dir=tmp_path))

    @app.get("/api/v1/boom")
    def boom():
        raise RuntimeError("secret internals /etc/passwd")

    with TestClient(app, raise_server_exceptions=False) as client:
        resp = client.get("/api/v1/boom")
    body = resp.json()["error"]
    assert resp.status_code == 500 and body["code"] == "internal_error"
    assert body["request_id"] == resp.headers["X-Request-Id"] and "secret" not in resp.text
    assert any(body["request_id"] in r.getMessage() for r in caplog.records)
    app.state.engine.dispose()


def test_the_phone_page_is_served_with_a_strict_content_security_policy(inside):
    for path in ("/phone/", "/phone/phone.js"):
        resp = requests.get(f"{inside.url}{path}", timeout=30)
        policy = resp.headers["Content-Security-Policy"]
        assert resp.status_code == 200 and "default-src 'none'" in policy
        assert "script-src 'self'" in policy and "unsafe" not in policy
        assert "frame-ancestors 'none'" in policy
        assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_nul_in_a_multipart_form_field_is_refused(inside):
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), "gray").save(buffer, "JPEG")
    resp = requests.post(f"{inside.url}/api/v1/auth/face/review", timeout=30,
                         files={"photo": ("me.jpg", buffer.getvalue(), "image/jpeg")},
                         data={"name": "张\x00三", "id_number": "110101199003070011"})
    assert code(resp) == (422, "invalid_request")
