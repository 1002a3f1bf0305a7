"""A session's byte budget stays exact and costs the same at its 1,000th segment as at its 1st.

The real app served by uvicorn on 127.0.0.1 in this process, on SQLite and on a fresh
PostgreSQL database (their triggers differ). Segments are inserted and deleted straight in
``recording_segments``, as any code of the server may do; the next tus creation is refused
or admitted by exactly what the session holds, and none of its statements reads the
session's segments one by one.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
import requests
from sqlalchemy import delete, event, insert, update

from tests.server import scale_app
from tests.upload.conftest import enter_written_exam
from zhishiyun_server import clock
from zhishiyun_server.models import Organisation, RecordingSegment

pytestmark = pytest.mark.integration
TUS = {"Tus-Resumable": "1.0.0"}
RECEIVED, EACH = 1000, 1000


served_app = scale_app.served_app_on_both_databases  # the fixture, on SQLite and PostgreSQL


def _create(url: str, entered, seq: int, length: int) -> requests.Response:
    meta = {"session_id": entered.session_id, "track": "screen", "seq": str(seq),
            "sha256": hashlib.sha256(b"x").hexdigest()}
    return requests.post(f"{url}/files/", timeout=10, headers={
        **TUS, **entered.auth, "Upload-Length": str(length), "Upload-Metadata": ",".join(
            f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in meta.items())})


def test_the_budget_counts_every_segment_without_reading_them(served_app):
    engine = served_app.app.state.engine
    with engine.begin() as conn:  # before the first creation reads (and caches) the limits
        conn.execute(update(Organisation).values(max_session_bytes=RECEIVED * EACH + 5000))
    entered = enter_written_exam(served_app.url)
    with engine.begin() as conn:
        conn.execute(insert(RecordingSegment), [
            {"session_id": entered.session_id, "track": "screen", "seq": seq, "bytes": EACH,
             "sha256": "0" * 64, "storage_key": "", "received_at": clock.now()}
            for seq in range(RECEIVED)])

    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        refused = _create(served_app.url, entered, RECEIVED, 6000)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert refused.status_code == 413
    assert refused.json()["error"]["code"] == "session_too_large"
    assert statements and not [s for s in statements if "recording_segments" in s]

    with engine.begin() as conn:  # one segment less: exactly room for the new upload
        conn.execute(delete(RecordingSegment).where(
            RecordingSegment.session_id == entered.session_id, RecordingSegment.seq == 0))
    assert _create(served_app.url, entered, RECEIVED, 6000).status_code == 201
    assert _create(served_app.url, entered, RECEIVED + 1, 1).status_code == 413
