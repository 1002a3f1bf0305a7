"""A session's queued events carried by a segment's tus creation are stored in its commit.

The real app on uvicorn over HTTP, on SQLite and on a fresh PostgreSQL database. The events
travel as metadata ``events`` (base64 of the body ``POST /events`` would get); the 201 says
``Zhishiyun-Events: recorded`` or ``not-recorded; reason=<code>``. Stored events are the
rows a posted batch makes (the review console shows those); a batch that is not recorded
never stops the upload, and nothing of it is stored.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from datetime import timedelta

import pytest
import requests
from sqlalchemy import event, select

from tests.server import scale_app
from tests.server.test_tus_carried_manifest import _b64, _line, _stored
from tests.upload.conftest import enter_written_exam
from zhishiyun_server import clock
from zhishiyun_server.models import Event, LateEvent

pytestmark = pytest.mark.integration
TUS = {"Tus-Resumable": "1.0.0"}

served_app = scale_app.served_app_on_both_databases  # the fixture, on SQLite and PostgreSQL


def _events(prefix: str, count: int, at=None, **details) -> list[dict]:
    at = clock.iso(at or clock.now() - timedelta(seconds=5))
    return [{"id": f"{prefix}-{n:03d}", "kind": "focus_lost", "at": at,
             "details": {"n": n, **details}} for n in range(count)]


def _body(events: list[dict], **extra) -> str:
    return _b64(json.dumps({**extra, "events": events}))


def _create(entered, seq: int, events: str | None, line: bool = False) -> requests.Response:
    """A tus creation of a small segment carrying ``events`` (and its line); 201 or fails."""
    data = os.urandom(2_000) + seq.to_bytes(4, "big")
    sha = hashlib.sha256(data).hexdigest()
    pairs = {"session_id": _b64(entered.session_id), "track": _b64("screen"),
             "seq": _b64(str(seq)), "sha256": _b64(sha)}
    if line:
        pairs["manifest"] = _b64(_line(entered.session_key, seq, data))
    if events is not None:
        pairs["events"] = events
    resp = requests.post(entered.upload_url, timeout=30, headers={
        **TUS, **entered.auth, "Upload-Length": str(len(data)),
        "Upload-Metadata": ",".join(f"{k} {v}" for k, v in pairs.items())})
    assert resp.status_code == 201, resp.text
    resp.segment = data
    return resp


def _finish_upload(entered, resp: requests.Response) -> None:
    url = requests.compat.urljoin(entered.upload_url, resp.headers["Location"])
    patch = requests.patch(url, data=resp.segment, timeout=30, headers={
        **TUS, **entered.auth, "Upload-Offset": "0",
        "Content-Type": "application/offset+octet-stream"})
    assert patch.status_code == 204, patch.text


def _post(entered, events: list[dict]) -> requests.Response:
    return requests.post(f"{entered.client.api_url}/sessions/{entered.session_id}/events",
                         json={"events": events}, headers=entered.auth, timeout=30)


def _rows(served, session_id: str) -> dict[str, tuple]:
    """Client event id → (kind, at, details, late delay or None) as stored."""
    with served.app.state.engine.connect() as conn:
        rows = conn.execute(
            select(Event.client_event_id, Event.kind, Event.at, Event.details,
                   LateEvent.delay_s).outerjoin(LateEvent, LateEvent.event_id == Event.id)
            .where(Event.session_id == session_id)).all()
    return {row[0]: tuple(row[1:]) for row in rows}


def _same_but_id(rows: dict[str, tuple], carried: str, posted: str) -> None:
    kind, at, details, late = rows[carried]
    p_kind, p_at, p_details, p_late = rows[posted]
    assert (kind, at, details) == (p_kind, p_at, p_details)
    assert (late is None) == (p_late is None)


def test_carried_events_are_stored_as_posted_ones_in_the_creations_one_commit(served_app):
    entered = enter_written_exam(served_app.url)
    _create(entered, 0, None)  # warms the caches; the sweep runs here
    engine = served_app.app.state.engine
    at = clock.now() - timedelta(seconds=3)
    carried = _events("c", 3, at, app="微信")
    posted = _events("p", 3, at, app="微信")
    commits = []

    def counted(_conn):
        commits.append(1)

    event.listen(engine, "commit", counted)
    try:
        resp = _create(entered, 1, _body(carried, session_id=entered.session_id), line=True)
    finally:
        event.remove(engine, "commit", counted)
    assert resp.headers["Zhishiyun-Events"] == "recorded"
    assert resp.headers["Zhishiyun-Manifest"] == "recorded"
    assert len(commits) == 1  # admit, line and events together
    assert [seq for _t, seq, _l in _stored(served_app, entered.session_id)] == [1]
    assert _post(entered, posted).json() == {"accepted": 3, "duplicates": 0}
    rows = _rows(served_app, entered.session_id)
    assert set(rows) == {e["id"] for e in carried + posted}
    for n in range(3):
        _same_but_id(rows, f"c-{n:03d}", f"p-{n:03d}")
    # A client that did not see the reply posts the batch again: all duplicates.
    assert _post(entered, carried).json() == {"accepted": 0, "duplicates": 3}
    _finish_upload(entered, resp)


def test_carried_events_after_the_end_are_marked_late_or_refused_as_posted(served_app):
    entered = enter_written_exam(served_app.url)
    base = f"{entered.client.api_url}/sessions/{entered.session_id}"
    assert requests.post(f"{base}/finish", json={"reason": "candidate_ended"},
                         headers=entered.auth, timeout=30).status_code == 200
    before_end = clock.now() - timedelta(seconds=30)  # queued while offline
    resp = _create(entered, 0, _body(_events("late", 2, before_end)))
    assert resp.headers["Zhishiyun-Events"] == "recorded"
    assert _post(entered, _events("posted", 2, before_end)).status_code == 200
    rows = _rows(served_app, entered.session_id)
    assert len(rows) == 4 and all(late is not None and 29 <= late < 120
                                  for _k, _a, _d, late in rows.values())
    _same_but_id(rows, "late-000", "posted-000")

    # One event written after the end: nothing of the batch is stored with the creation;
    # posted, the route stores the others and refuses that one (409), as always.
    after = _events("after", 1, clock.now() + timedelta(minutes=1))
    mixed = _events("mixed", 2, before_end) + after
    resp = _create(entered, 1, _body(mixed))
    assert resp.headers["Zhishiyun-Events"] == "not-recorded; reason=saved_after_end"
    assert set(_rows(served_app, entered.session_id)) == set(rows)
    _finish_upload(entered, resp)
    refused = _post(entered, mixed)
    assert refused.status_code == 409
    assert refused.json()["error"]["refused"] == ["after-000"]


def _deep(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth):
        value = {"x": value}
    return value


def _padded(one: dict, size: int) -> str:
    """A valid batch of one event whose JSON text is exactly ``size`` bytes."""
    bare = json.dumps({"events": [{**one, "details": {"note": ""}}]})
    return json.dumps({"events": [{**one, "details": {"note": "x" * (size - len(bare))}}]})


@pytest.mark.parametrize(("case", "reason"), [
    ("garbage_base64", "bad_base64"),
    ("not_json", "invalid_request"),
    ("not_an_object", "invalid_request"),
    ("no_time", "invalid_request"),
    ("time_far_off", "invalid_request"),
    ("nul_in_text", "invalid_request"),
    ("nested_too_deep", "invalid_request"),
    ("huge_number", "invalid_request"),
    ("another_session", "not_this_session"),
    ("oversize", "events_too_large"),
    ("far_oversize", "events_too_large"),
])
def test_a_bad_carried_batch_is_not_recorded_and_the_upload_goes_on(served_app, case, reason):
    entered = enter_written_exam(served_app.url)
    one = _events("bad", 1)[0]
    carried = {
        "garbage_base64": lambda: "!!not*base64!!",
        "not_json": lambda: _b64('{"events": [{"id": "x",'),
        "not_an_object": lambda: _b64(json.dumps([one])),
        "no_time": lambda: _body([{"id": "x", "kind": "focus_lost"}]),
        "time_far_off": lambda: _body([{**one, "at": "1999-01-01T00:00:00Z"}]),
        "nul_in_text": lambda: _body([{**one, "kind": "focus\u0000lost"}]),
        "nested_too_deep": lambda: _body([{**one, "details": _deep(40)}]),
        "huge_number": lambda: _body([{**one, "details": {"n": 2**70}}]),
        "another_session": lambda: _body([one], session_id="s-of-someone-else"),
        # One byte over 32 KiB decoded, and far over (refused before decoding).
        "oversize": lambda: _b64(_padded(one, 32 * 1024 + 1)),
        "far_oversize": lambda: _b64(b"A" * 40_000),
    }[case]()
    resp = _create(entered, 0, carried)
    assert resp.headers["Zhishiyun-Events"] == f"not-recorded; reason={reason}"
    assert _rows(served_app, entered.session_id) == {}
    head = requests.head(requests.compat.urljoin(entered.upload_url, resp.headers["Location"]),
                         headers={**TUS, **entered.auth}, timeout=30)
    assert "events" not in head.headers.get("Upload-Metadata", "")  # not kept with it
    _finish_upload(entered, resp)


def test_repeated_ids_keep_their_first_copy_and_a_resent_batch_is_a_no_op(served_app):
    entered = enter_written_exam(served_app.url)
    batch = _events("d", 4)
    again = [{**batch[1], "kind": "window_switch"}]  # a later copy of d-001
    resp = _create(entered, 0, _body(batch + again))
    assert resp.headers["Zhishiyun-Events"] == "recorded"
    # The same batch again, with the next segment: recorded (held already), stored once.
    assert _create(entered, 1, _body(batch)).headers["Zhishiyun-Events"] == "recorded"
    rows = _rows(served_app, entered.session_id)
    assert set(rows) == {e["id"] for e in batch}
    assert {kind for kind, _a, _d, _l in rows.values()} == {"focus_lost"}


def test_a_creation_in_another_candidates_session_stores_nothing(served_app):
    entered = enter_written_exam(served_app.url)
    pairs = {"session_id": _b64("s-not-mine"), "track": _b64("screen"), "seq": _b64("0"),
             "sha256": _b64("ab" * 32), "events": _body(_events("x", 1))}
    resp = requests.post(entered.upload_url, timeout=30, headers={
        **TUS, **entered.auth, "Upload-Length": "10",
        "Upload-Metadata": ",".join(f"{k} {v}" for k, v in pairs.items())})
    assert resp.status_code == 404
    with served_app.app.state.engine.connect() as conn:
        assert conn.execute(select(Event.id).where(Event.client_event_id == "x-000")).all() \
            == []


def test_a_batch_carried_and_posted_at_once_is_stored_once(served_app):
    entered = enter_written_exam(served_app.url)
    for round_ in range(8):  # a few rounds: either side may win
        batch = _events(f"r{round_}", 20)
        start = threading.Barrier(2)
        results: dict[str, requests.Response] = {}

        def carry(seq=round_, batch=batch, results=results, start=start):
            start.wait()
            results["create"] = _create(entered, seq, _body(batch[::-1]))

        def post(batch=batch, results=results, start=start):
            start.wait()
            results["post"] = _post(entered, batch)

        threads = [threading.Thread(target=carry), threading.Thread(target=post)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert results["create"].headers["Zhishiyun-Events"] == "recorded"
        assert results["post"].status_code == 200, results["post"].text
        assert results["post"].json()["accepted"] in (0, 20)
    rows = _rows(served_app, entered.session_id)
    assert len(rows) == 8 * 20


def test_without_the_key_the_reply_has_no_events_header(served_app):
    entered = enter_written_exam(served_app.url)
    assert "Zhishiyun-Events" not in _create(entered, 0, None).headers


def test_a_batch_at_the_limit_with_its_line_fits_the_request_head(served_app):
    # 32 KiB of events and a line: about 50 KiB of metadata, within the 64 KiB head limit
    entered = enter_written_exam(served_app.url)
    resp = _create(entered, 0, _b64(_padded(_events("edge", 1)[0], 32 * 1024)), line=True)
    assert resp.headers["Zhishiyun-Events"] == "recorded"
    assert resp.headers["Zhishiyun-Manifest"] == "recorded"
    assert set(_rows(served_app, entered.session_id)) == {"edge-000"}
