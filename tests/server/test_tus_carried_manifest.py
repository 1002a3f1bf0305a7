"""A segment's manifest line carried by its tus creation is recorded in the creation's commit.

The real app on uvicorn over HTTP, on SQLite and on a fresh PostgreSQL database. The line
travels as metadata ``manifest`` (base64 of its exact text); the 201 says
``Zhishiyun-Manifest: recorded`` or ``not-recorded; reason=<code>``. A line that is not
recorded never stops the upload, and nothing of it is stored.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from datetime import datetime, timedelta, timezone

import pytest
import requests
from sqlalchemy import event, select

from tests.server import scale_app
from tests.upload.conftest import enter_written_exam
from zhishiyun_formats.manifest import canonical_bytes, compute_mac, format_time
from zhishiyun_server.manifest_store import ManifestLine

pytestmark = pytest.mark.integration
TUS = {"Tus-Resumable": "1.0.0"}

served_app = scale_app.served_app_on_both_databases  # the fixture, on SQLite and PostgreSQL


def _b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def _segment(seq: int, size: int = 200_000) -> tuple[bytes, str]:
    data = os.urandom(size) + seq.to_bytes(4, "big")
    return data, hashlib.sha256(data).hexdigest()


def _line(key: str, seq: int, data: bytes, sha256: str | None = None, prev: str = "",
          track: str = "screen", **extra) -> str:
    start = format_time(datetime.now(timezone.utc) - timedelta(seconds=2))
    record = {"seq": seq, "track": track, "start": start,
              "duration_ms": 2000, "bytes": len(data),
              "sha256": sha256 or hashlib.sha256(data).hexdigest(), "prev": prev, **extra}
    record["mac"] = compute_mac(record, key)
    return canonical_bytes(record).decode()


def _create(entered, seq: int, data: bytes, sha256: str, carried: str | None,
            track: str = "screen") -> requests.Response:
    pairs = {"session_id": _b64(entered.session_id), "track": _b64(track),
             "seq": _b64(str(seq)), "sha256": _b64(sha256)}
    if carried is not None:
        pairs["manifest"] = carried
    resp = requests.post(entered.upload_url, timeout=30, headers={
        **TUS, **entered.auth, "Upload-Length": str(len(data)),
        "Upload-Metadata": ",".join(f"{k} {v}" for k, v in pairs.items())})
    assert resp.status_code == 201, resp.text
    return resp


def _finish(entered, resp: requests.Response, data: bytes) -> None:
    url = requests.compat.urljoin(entered.upload_url, resp.headers["Location"])
    patch = requests.patch(url, data=data, timeout=30, headers={
        **TUS, **entered.auth, "Upload-Offset": "0",
        "Content-Type": "application/offset+octet-stream"})
    assert patch.status_code == 204, patch.text


def _track(entered, track: str = "screen") -> dict:
    """The track in ``GET /sessions/{sid}/recordings``, as the server answers it."""
    reply = requests.get(f"{entered.client.api_url}/sessions/{entered.session_id}/recordings",
                         headers=entered.auth, timeout=30)
    assert reply.status_code == 200
    return reply.json()["tracks"][track]


def _stored(served, session_id: str) -> list[tuple[str, int, str]]:
    with served.app.state.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(
            select(ManifestLine.track, ManifestLine.seq, ManifestLine.line).where(
                ManifestLine.session_id == session_id).order_by(ManifestLine.seq))]


def test_a_carried_line_is_recorded_with_the_creation_in_one_commit(served_app):
    entered = enter_written_exam(served_app.url)
    engine = served_app.app.state.engine
    data0, sha0 = _segment(0)
    _create(entered, 0, data0, sha0, None)  # warms the caches; the sweep runs here
    data1, sha1 = _segment(1)
    line1 = _line(entered.session_key, 1, data1)
    commits = []

    def counted(_conn):
        commits.append(1)

    event.listen(engine, "commit", counted)
    try:
        resp = _create(entered, 1, data1, sha1, _b64(line1))
    finally:
        event.remove(engine, "commit", counted)
    assert resp.headers["Zhishiyun-Manifest"] == "recorded"
    assert len(commits) == 1
    assert _stored(served_app, entered.session_id) == [("screen", 1, line1)]
    _finish(entered, resp, data1)
    # What POST /manifest would have stored: the line verifies, it is signed, not late.
    track = _track(entered)
    assert track["received"] == [1] and track["unsigned"] == [] and track["late"] == []
    # Posting the same line again (a client that did not see the reply) is a no-op.
    reply = requests.post(f"{entered.client.api_url}/sessions/{entered.session_id}/manifest",
                          json={"lines": [line1]}, headers=entered.auth, timeout=30)
    assert reply.status_code == 200 and reply.json()["accepted"] == 0
    assert reply.json()["conflicts"] == []


def test_a_chain_of_carried_lines_verifies_like_posted_ones(served_app):
    entered = enter_written_exam(served_app.url)
    prev = ""
    for seq in range(4):
        data, sha = _segment(seq, 50_000)
        line = _line(entered.session_key, seq, data, prev=prev)
        prev = hashlib.sha256(line.encode()).hexdigest()
        resp = _create(entered, seq, data, sha, _b64(line))
        assert resp.headers["Zhishiyun-Manifest"] == "recorded"
        _finish(entered, resp, data)
    track = _track(entered)
    assert track["received"] == [0, 1, 2, 3] and track["chain_ok"] is True
    assert track["missing"] == [] and track["unsigned"] == []


def _forged(key, data, sha):
    line = _line(key, 0, data)
    return line.replace('"duration_ms":2000', '"duration_ms":2001')  # edited after signing


@pytest.mark.parametrize(("case", "reason"), [
    ("bad_mac", "bad_mac"),
    ("wrong_seq", "not_this_upload"),
    ("wrong_track", "not_this_upload"),
    ("sha_mismatch", "sha256_mismatch"),
    ("garbage_base64", "bad_base64"),
    ("not_a_line", "bad_manifest_line"),
    ("oversize", "line_too_long"),
    ("far_oversize", "line_too_long"),
])
def test_a_bad_carried_line_is_not_recorded_and_the_upload_goes_on(served_app, case, reason):
    entered = enter_written_exam(served_app.url)
    key = entered.session_key
    data, sha = _segment(0)
    carried = {
        "bad_mac": lambda: _b64(_forged(key, data, sha)),
        "wrong_seq": lambda: _b64(_line(key, 1, data)),
        "wrong_track": lambda: _b64(_line(key, 0, data, track="camera")),
        "sha_mismatch": lambda: _b64(_line(key, 0, data, sha256="ab" * 32)),
        "garbage_base64": lambda: "!!not*base64!!",
        "not_a_line": lambda: _b64('{"seq": 0, "track": "screen"}'),
        "oversize": lambda: _b64(_line(key, 0, data, note="x" * 4200)),
        # Past the whole metadata header's own limit: still only the line is refused.
        "far_oversize": lambda: _b64(_line(key, 0, data, note="x" * 9000)),
    }[case]()
    resp = _create(entered, 0, data, sha, carried)
    assert resp.headers["Zhishiyun-Manifest"] == f"not-recorded; reason={reason}"
    assert _stored(served_app, entered.session_id) == []
    head = requests.head(requests.compat.urljoin(entered.upload_url, resp.headers["Location"]),
                         headers={**TUS, **entered.auth}, timeout=30)
    assert "manifest" not in head.headers.get("Upload-Metadata", "")  # not kept with it
    _finish(entered, resp, data)
    assert _track(entered)["received"] == [0]


def test_a_line_held_with_other_text_is_a_conflict_and_stays(served_app):
    entered = enter_written_exam(served_app.url)
    data, sha = _segment(0)
    first = _line(entered.session_key, 0, data)
    other = _line(entered.session_key, 0, data, note="another")
    reply = requests.post(f"{entered.client.api_url}/sessions/{entered.session_id}/manifest",
                          json={"lines": [first]}, headers=entered.auth, timeout=30)
    assert reply.status_code == 200
    resp = _create(entered, 0, data, sha, _b64(other))
    assert resp.headers["Zhishiyun-Manifest"] == "not-recorded; reason=conflict"
    assert _stored(served_app, entered.session_id) == [("screen", 0, first)]


def _carry_and_post_at_once(entered, seq: int) -> dict[str, requests.Response]:
    url = f"{entered.client.api_url}/sessions/{entered.session_id}/manifest"
    data, sha = _segment(seq, 20_000)
    line = _line(entered.session_key, seq, data)
    start = threading.Barrier(2)
    results: dict[str, requests.Response] = {}

    def carry():
        start.wait()
        results["create"] = _create(entered, seq, data, sha, _b64(line))

    def post():
        start.wait()
        results["post"] = requests.post(url, json={"lines": [line]}, headers=entered.auth,
                                        timeout=30)

    threads = [threading.Thread(target=carry), threading.Thread(target=post)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_a_line_carried_and_posted_at_once_is_stored_once(served_app):
    entered = enter_written_exam(served_app.url)
    for seq in range(8):  # a few rounds: either side may win
        results = _carry_and_post_at_once(entered, seq)
        assert results["create"].headers["Zhishiyun-Manifest"] == "recorded"
        assert results["post"].status_code == 200, results["post"].text
        assert results["post"].json()["conflicts"] == []
    stored = _stored(served_app, entered.session_id)
    assert [seq for _track, seq, _line in stored] == list(range(8))


def test_without_the_key_the_reply_has_no_manifest_header(served_app):
    entered = enter_written_exam(served_app.url)
    data, sha = _segment(0)
    resp = _create(entered, 0, data, sha, None)
    assert "Zhishiyun-Manifest" not in resp.headers


def test_a_carried_line_past_the_sessions_line_limit_is_not_recorded(served_app, monkeypatch):
    from zhishiyun_server import recordings

    monkeypatch.setattr(recordings, "MAX_LINES_PER_SESSION", 3)
    entered = enter_written_exam(served_app.url)
    replies = []
    for seq in range(4):
        data, sha = _segment(seq, 1_000)
        resp = _create(entered, seq, data, sha, _b64(_line(entered.session_key, seq, data)))
        replies.append(resp.headers["Zhishiyun-Manifest"])
    assert replies == ["recorded"] * 3 + ["not-recorded; reason=manifest_too_large"]
    assert [seq for _track, seq, _line in _stored(served_app, entered.session_id)] == [0, 1, 2]
