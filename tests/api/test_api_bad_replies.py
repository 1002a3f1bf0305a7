"""Malformed or unexpected replies become clear ApiErrors (a stub HTTP server sends junk)."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zhishiyun.api import ApiError, ServerClient
from zhishiyun.api.tokens import MemoryTokenStore
from zhishiyun.i18n import set_language


class Stub:
    """What the stub answers next, and how many requests it saw."""

    def __init__(self) -> None:
        self.status = 200
        self.body = b""
        self.headers: dict[str, str] = {"Content-Type": "application/json"}
        self.requests = 0
        self.hang = False


@pytest.fixture(scope="module")
def stub():
    state = Stub()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self):
            state.requests += 1
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            if state.hang:
                threading.Event().wait(1.0)
                return
            self.send_response(state.status)
            for key, value in state.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        do_GET = do_POST = do_PUT = do_PATCH = _answer

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


def make_client(stub, **kwargs) -> ServerClient:
    store = MemoryTokenStore(stub.url)
    store.set("token")
    return ServerClient(stub.url, token_store=store, retries=kwargs.pop("retries", 0),
                        backoff=0.01, **kwargs)


CALLS = [
    ("health", ()), ("config", ()), ("release", ("windows",)), ("server_time", ()),
    ("login_password", ("110101199003070011", "pw")), ("me", ()), ("exams", ()),
    ("draw_lot", (1,)), ("accept", (1,)), ("enter", (1,)), ("papers", ("s",)),
    ("answers", ("s",)), ("put_answer", ("s", "q", 1, "a")),
    ("post_events", ("s", [{"id": "1", "kind": "k", "at": "2026-01-01T00:00:00Z"}])),
    ("finish", ("s", "time_up")), ("messages", ()), ("recordings", ("s",)),
    ("post_manifest", ("s", ["{}"])),
    ("speedtest", (b"xx",)), ("update_me", ()),
]


def _call(client, name, args):
    return getattr(client, name)(*args)


CAPTIVE_PORTAL = b"<html><head><title>Wi-Fi login</title></head><body>Log in</body></html>"
TABLE = [
    ("html from a captive portal", 200, CAPTIVE_PORTAL),
    ("truncated json", 200, b'{"status": "ok", "vers'),
    ("empty body", 200, b""),
    ("json array", 200, b"[1, 2, 3]"),
    ("json null", 200, b"null"),
    ("missing fields", 200, b"{}"),
    ("wrong types", 200, json.dumps({"status": 1, "version": [], "exams": "many",
                                     "server_time_ms": "soon", "token": None}).encode()),
    ("not utf-8", 200, b"\xff\xfe\x00junk"),
    ("deep nesting", 200, b"[" * 100_000),
]


@pytest.mark.parametrize("name,args", CALLS, ids=[c[0] for c in CALLS])
@pytest.mark.parametrize("label,status,body", TABLE, ids=[t[0] for t in TABLE])
def test_malformed_success_replies_are_bad_reply(stub, name, args, label, status, body):
    stub.status, stub.body = status, body
    with pytest.raises(ApiError) as info:
        _call(make_client(stub), name, args)
    assert info.value.code == "bad_reply"
    assert info.value.message and "Traceback" not in info.value.message


@pytest.mark.parametrize("status,body,code", [
    (403, CAPTIVE_PORTAL, "bad_reply"),
    (500, b"Internal Server Error", "server_error"),
    (503, b"<html>maintenance</html>", "unavailable"),
    (401, b"", "unauthorized"),
    (404, b'{"error": "nope"}', "bad_reply"),
    (409, b'{"error": {"code": "stale_version", "message": "newer", "current_version": 4}}',
     "stale_version"),
    (418, b'{"error": {"code": "Bad Code!", "message": "x"}}', "bad_reply"),
])
def test_error_replies_map_to_codes(stub, status, body, code):
    stub.status, stub.body = status, body
    with pytest.raises(ApiError) as info:
        make_client(stub).exams()
    assert (info.value.status, info.value.code) == (status, code)


def test_server_codes_keep_their_details(stub):
    stub.status = 403
    stub.body = json.dumps({"error": {"code": "entry_not_open", "message": "later",
                                      "entry_opens_at": "2026-06-01T01:00:00+00:00"}}).encode()
    with pytest.raises(ApiError) as info:
        make_client(stub).enter(1)
    assert info.value.details["entry_opens_at"].startswith("2026-06-01")
    assert "2026-06-01" in info.value.message


def test_messages_are_translated_for_the_candidate(stub):
    stub.status, stub.body = 200, CAPTIVE_PORTAL
    try:
        set_language("zh_CN")
        with pytest.raises(ApiError) as info:
            make_client(stub).health()
        assert any("\u4e00" <= ch <= "\u9fff" for ch in info.value.message)
    finally:
        set_language("en")
    with pytest.raises(ApiError) as info:
        make_client(stub).health()
    assert "exam server" in info.value.message


def test_idempotent_calls_are_retried_and_others_are_not(stub):
    stub.status, stub.body = 503, b"busy"
    before = stub.requests
    with pytest.raises(ApiError):
        make_client(stub, retries=2).exams()
    assert stub.requests - before == 3
    before = stub.requests
    with pytest.raises(ApiError):
        make_client(stub, retries=2).login_password("110101199003070011", "pw")
    assert stub.requests - before == 1


def test_a_retry_that_succeeds_returns_the_reply(stub):
    stub.status, stub.body = 200, b'{"status": "ok", "version": "9"}'
    assert make_client(stub, retries=2).health().version == "9"


def test_timeouts_and_refused_connections_are_network_errors(stub):
    stub.hang = True
    try:
        with pytest.raises(ApiError) as info:
            make_client(stub, read_timeout=0.2).health()
        assert info.value.code == "timeout" and info.value.status == 0
    finally:
        stub.hang = False
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = ServerClient(f"http://127.0.0.1:{port}", token_store=MemoryTokenStore(),
                          retries=0)
    with pytest.raises(ApiError) as info:
        client.health()
    assert info.value.code == "network"
    with pytest.raises(ApiError) as info:
        ServerClient("", token_store=MemoryTokenStore()).health()
    assert info.value.code == "no_server"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=20)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(st.binary(max_size=200), json_values.map(
    lambda v: json.dumps(v).encode())), status=st.sampled_from([200, 201, 400, 404, 409, 500]),
    call=st.sampled_from(CALLS))
def test_any_junk_becomes_an_api_error_or_a_typed_reply(stub, body, status, call):
    stub.status, stub.body = status, body
    try:
        reply = _call(make_client(stub), *call)
    except ApiError as exc:
        assert exc.code and exc.message
    else:
        assert status < 300 and reply is not None or call[0] in ("read_message",)
