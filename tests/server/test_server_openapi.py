"""The OpenAPI document kept in the repository matches the application."""

from __future__ import annotations

import json

from zhishiyun_server.cli import OPENAPI_FILE, dump_openapi, openapi_document


def test_openapi_snapshot_matches_the_app():
    current = dump_openapi(openapi_document())
    stored = OPENAPI_FILE.read_text(encoding="utf-8")
    assert stored == current, (
        "zhishiyun_server/openapi.json is out of date: run `zhishiyun-server openapi --write`")


def test_contract_fields_are_in_the_document():
    schemas = json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))["components"]["schemas"]
    assert {"session_id", "session_key", "upload_url", "recording"} <= set(
        schemas["SessionReply"]["properties"])
    assert {"id", "name", "kind", "entry_opens_at", "entry_closes_at", "starts_at", "duration_s",
            "lottery_required", "lottery_number", "accepted", "state", "attachments",
            "recordings"} <= set(schemas["ExamInfo"]["properties"])
    assert {"token", "expires_at", "candidate"} <= set(schemas["LoginReply"]["properties"])
