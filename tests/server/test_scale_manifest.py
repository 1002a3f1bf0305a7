"""The manifest is verified line by line as it arrives, and says what a whole-file check says.

Each ``POST /manifest`` verifies only its new lines against the stored chain (no quadratic
re-verification of the session), so the reply must still equal
:func:`zhishiyun_formats.manifest.verify_manifest` over everything received so far —
whatever the batch order, with forged, malformed and missing lines, and with lines stored
without their facts (rows from before the upgrade, lines the server writes itself).
"""

from __future__ import annotations

import hashlib
import json
import random

import pytest
import requests

from tests.server import scale_app
from tests.upload.conftest import enter_written_exam
from zhishiyun_formats.manifest import canonical_bytes, compute_mac, verify_manifest

pytestmark = pytest.mark.integration


served_app = scale_app.served_app_on_both_databases  # the fixture, on SQLite and PostgreSQL


def _chain(key: str, track: str, count: int, seqs: list[int] | None = None) -> list[str]:
    lines, prev = [], ""
    for seq in seqs if seqs is not None else range(count):
        record = {"seq": seq, "track": track, "start": "2026-12-01T09:00:00.000+08:00",
                  "duration_ms": 2000, "bytes": 1000 + seq,
                  "sha256": hashlib.sha256(f"{track}{seq}".encode()).hexdigest(),
                  "prev": prev}
        record["mac"] = compute_mac(record, key)
        line = canonical_bytes(record).decode()
        prev = hashlib.sha256(line.encode()).hexdigest()
        lines.append(line)
    return lines


def _ordered(lines: list[str]) -> list[str]:
    return sorted(lines, key=lambda text: (json.loads(text)["track"], json.loads(text)["seq"]))


def test_incremental_verification_equals_the_whole_file_check(served_app):
    app_url = served_app.url
    entered = enter_written_exam(app_url)
    key = entered.session_key
    screen, camera = _chain(key, "screen", 30), _chain(key, "camera", 30)
    forged = json.loads(screen[7])
    forged["bytes"] += 1  # edited after signing: its MAC fails
    screen[7] = canonical_bytes(forged).decode()
    del camera[12]  # never sent: missing, and the next line's prev no longer chains
    malformed = json.loads(camera[20])
    del malformed["start"]
    camera[20] = canonical_bytes(malformed).decode()
    lines = screen + camera

    # Some lines were stored before this server verified on arrival (no facts yet).
    from zhishiyun_server.recordings import ManifestLine

    factory = served_app.app.state.session_factory
    early = lines[:5] + camera[:3]
    with factory() as db:
        for text in early:
            record = json.loads(text)
            db.add(ManifestLine(session_id=entered.session_id, track=record["track"],
                                seq=record["seq"], sha256=record["sha256"], line=text))
        db.commit()

    rest = [text for text in lines if text not in early]
    rng = random.Random(19)
    rng.shuffle(rest)
    sent = list(early)
    while rest:
        size = rng.randint(1, 6)
        batch, rest = rest[:size], rest[size:]
        # Each batch also resends the line before it (a lost reply): harmless.
        resp = requests.post(f"{app_url}/api/v1/sessions/{entered.session_id}/manifest",
                             json={"lines": batch + sent[-1:]}, headers=entered.auth,
                             timeout=10)
        assert resp.status_code == 200, resp.text
        sent += batch
        expected = verify_manifest(_ordered(sent), key).to_dict()
        assert resp.json()["verification"] == expected

    final = resp.json()["verification"]
    assert final["tracks"]["screen"]["bad_mac"] == [7]
    # seq 12 never came; seq 21 is the malformed one (numbers shifted by the deletion).
    assert final["tracks"]["camera"]["missing"] == [12, 21]
    assert final["tracks"]["camera"]["bad_prev"] == [13, 22]
    assert len(final["malformed_lines"]) == 1


def test_lines_for_a_session_removed_meanwhile_get_404(served_app):
    """The session's owner and key are cached per process; its removal still refuses lines."""
    from sqlalchemy import delete

    from zhishiyun_server.models import ExamSession

    entered = enter_written_exam(served_app.url)
    key = entered.session_key
    lines = _chain(key, "screen", 3)
    url = f"{served_app.url}/api/v1/sessions/{entered.session_id}/manifest"
    resp = requests.post(url, json={"lines": lines[:1]}, headers=entered.auth, timeout=10)
    assert resp.status_code == 200, resp.text
    with served_app.app.state.session_factory() as db:
        db.execute(delete(ExamSession).where(ExamSession.id == entered.session_id))
        db.commit()
    resp = requests.post(url, json={"lines": lines[1:]}, headers=entered.auth, timeout=10)
    assert resp.status_code == 404, resp.text
    assert resp.json()["error"]["code"] == "not_found"


def _forged_last(key: str) -> list[str]:
    """Two lines; the last one edited after signing: its MAC fails, no line follows it."""
    lines = _chain(key, "mic", 2)
    forged = json.loads(lines[1])
    forged["duration_ms"] += 1
    return [lines[0], canonical_bytes(forged).decode()]


@pytest.mark.parametrize("anomaly", ["gap", "forged"])
def test_complete_tracks_are_answered_from_their_summary_and_equal_the_whole_file_check(
        served_app, anomaly):
    """Lines in order, a gap filled, then a lasting flaw: every reply equals the whole check."""
    entered = enter_written_exam(served_app.url)
    key = entered.session_key
    screen, camera = _chain(key, "screen", 12), _chain(key, "camera", 12)
    url = f"{served_app.url}/api/v1/sessions/{entered.session_id}/manifest"
    # in order (complete after every POST), then camera 9 before 8 (a gap, then filled)
    order = [line for pair in zip(screen, camera[:8], strict=False) for line in pair]
    order += screen[8:] + [camera[9], camera[8]] + camera[10:]
    # the first flaw that stays: a chain that links line to line but skips seq 3 (only the
    # numbering shows it), or a forged last line (only its MAC shows it)
    order += _chain(key, "audio", 0, seqs=[0, 1, 2, 4]) if anomaly == "gap" else \
        _forged_last(key)
    sent = []
    for text in order:
        resp = requests.post(url, json={"lines": [text]}, headers=entered.auth, timeout=10)
        assert resp.status_code == 200, resp.text
        sent.append(text)
        assert resp.json()["verification"] == verify_manifest(_ordered(sent), key).to_dict()
    final = resp.json()["verification"]
    assert final["tracks"]["camera"]["ok"] and final["tracks"]["camera"]["count"] == 12
    flawed = final["tracks"]["audio" if anomaly == "gap" else "mic"]
    assert not flawed["bad_prev"]
    assert (flawed["missing"], flawed["bad_mac"]) == (([3], []) if anomaly == "gap" else
                                                     ([], [1]))
    resent = requests.post(url, json={"lines": screen[:3]}, headers=entered.auth, timeout=10)
    assert resent.json()["accepted"] == 0 and resent.json()["verification"] == final
