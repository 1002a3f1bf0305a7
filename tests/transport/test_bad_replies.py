"""Replies the client cannot use end as clear, translated results wherever they arrive."""

from __future__ import annotations

import json

import pytest

from tests.api.test_api_bad_replies import make_client, stub  # noqa: F401 - the fixture
from tests.transport.conftest import zhishiyun
from zhishiyun.api import ApiError
from zhishiyun.api.models import Attachment, Paper
from zhishiyun.api.transport import JSON_MAX_BYTES
from zhishiyun.exam.second_camera import SecondCameraStatus
from zhishiyun.i18n import set_language

BIDI_NAME = "invoice\u202egpj.exe"  # shows as "invoiceexe.jpg" where bidi marks are honoured


def test_an_oversized_json_reply_is_dropped_with_a_translated_message(stub):  # noqa: F811
    stub.status = 200
    stub.body = b'{"status": "ok", "version": "' + b"x" * (JSON_MAX_BYTES + 1) + b'"}'
    with pytest.raises(ApiError) as caught:
        make_client(stub).health()
    assert caught.value.code == "reply_too_large"
    set_language("zh_CN")
    try:
        with pytest.raises(ApiError) as caught:
            make_client(stub).health()
        assert caught.value.message != "" and "服务器" in caught.value.message
    finally:
        set_language("en")


def test_a_redirect_to_another_host_is_refused(stub):  # noqa: F811
    stub.status, stub.body = 302, b""
    stub.headers = {"Location": "http://203.0.113.9/api/v1/exams"}
    try:
        before = stub.requests
        with pytest.raises(ApiError) as caught:
            make_client(stub).exams()
        assert caught.value.code == "bad_reply"
        assert "redirect" in caught.value.server_message
        assert stub.requests == before + 1
    finally:
        stub.headers = {"Content-Type": "application/json"}


def test_names_with_bidi_or_control_characters_are_shown_and_saved_safely(stub, tmp_path):  # noqa: F811
    attachment = Attachment.model_validate({
        "id": 7, "filename": BIDI_NAME + "\x07", "content_type": "text/plain", "size": 5,
        "url": "/api/v1/exams/1/attachments/0"})
    assert attachment.filename == "invoicegpj.exe "  # what the card shows
    paper = Paper.model_validate({"id": 1, "kind": "text", "title": "第一题\u2066\u202e"})
    assert paper.title == "第一题"
    stub.status, stub.body = 200, b"hello"
    stub.headers = {"Content-Type": "text/plain"}
    try:
        saved = make_client(stub).save_attachment(attachment, tmp_path)
    finally:
        stub.headers = {"Content-Type": "application/json"}
    assert saved.name == "invoicegpj.exe"
    assert saved.read_bytes() == b"hello"
    assert [p.name for p in tmp_path.iterdir()] == ["invoicegpj.exe"]


def test_non_numeric_second_camera_fields_are_a_bad_reply():
    with pytest.raises(ApiError) as caught:
        SecondCameraStatus.from_reply({"state": "bound", "segments": "many"})
    assert caught.value.code == "bad_reply"
    with pytest.raises(ApiError):
        SecondCameraStatus.from_reply({"state": "bound", "last_upload_seq": [1]})


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"status": ' * 50_000],
                         ids=["deep array", "deep object"])
def test_checks_report_json_nested_too_deep_as_not_a_zhishiyun_server(stub, body):  # noqa: F811
    stub.status, stub.body = 200, body
    done, _seconds = zhishiyun("check", "--headless", "--json", "--only", "server",
                               "--server", stub.url, timeout=60)
    [server] = json.loads(done.stdout)["checks"]
    assert server["status"] == "fail"
    assert server["details"]["error"] == "not_zhishiyun_server"
    assert "Traceback" not in done.stderr


def test_the_bandwidth_check_reports_a_non_numeric_byte_count(stub):  # noqa: F811
    stub.status, stub.body = 200, json.dumps({"bytes": "lots", "seconds": 1}).encode()
    done, _seconds = zhishiyun("check", "--headless", "--json", "--only", "bandwidth",
                               "--server", stub.url, timeout=60)
    [bandwidth] = json.loads(done.stdout)["checks"]
    assert bandwidth["status"] == "warn"
    assert "byte count" in bandwidth["message"]
    assert "Traceback" not in done.stderr
