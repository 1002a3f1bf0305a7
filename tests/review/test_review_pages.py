"""What the pages say about a real finished session: counts, wall tile, late answers, language."""

from __future__ import annotations

import re

import requests
from sqlalchemy import delete, select

from tests.exam.conftest import server_db
from tests.review.conftest import candidate_token, during_session, staff_login


def _counts(html: str, exam_name: str) -> dict[str, int]:
    row = next(r for r in html.split("<tr ")[1:] if exam_name in r)
    return {k: int(v) for k, v in re.findall(r'data-count="(\w+)">(\d+)<', row)}


def _without_flags(server, session_id: str) -> None:
    """Drop the flagging events the recording picked up from the machine, on this copy.

    The process list is the machine's: a stand-in prohibited program that another test
    runs at the same time (tests/integrity) is seen, and rightly reported, by this
    recording too. The copy is this test's own, so the session starts unflagged here.
    """
    from zhishiyun_server.models import Event
    from zhishiyun_server.review.severity import flagging_kinds

    with server_db(server)() as db:
        kinds = set(db.scalars(select(Event.kind).where(Event.session_id == session_id)))
        db.execute(delete(Event).where(Event.session_id == session_id,
                                       Event.kind.in_(flagging_kinds(kinds))))
        db.commit()


def test_counts_flags_wall_tile_and_late_answers(finished_exam):
    from zhishiyun_server.models import AnswerVersion, ExamSession
    from zhishiyun_server.recordings import ManifestLine

    server, summary = finished_exam
    sid = summary["session_id"]
    _without_flags(server, sid)
    http = staff_login(server.url)
    exam = "2026 年春季招聘笔试（演示）"
    before = _counts(http.get(server.url + "/review/exams", timeout=10).text, exam)
    assert before["entered"] == 1 and before["finished"] == 1 and before["in_progress"] == 0
    assert before["flagged"] == 0

    bearer = {"Authorization": f"Bearer {candidate_token(server.url)}"}
    requests.post(f"{server.url}/api/v1/sessions/{sid}/events", headers=bearer, timeout=10,
                  json={"events": [{"id": "x-1", "kind": "prohibited_program",
                                    "at": during_session(server, sid),
                                    "details": {"name": "TeamViewer"}}]}).raise_for_status()
    after = _counts(http.get(server.url + "/review/exams", timeout=10).text, exam)
    assert after["flagged"] == 1

    factory = server_db(server)
    with factory() as db:
        session = db.get(ExamSession, sid)
        version = db.scalar(select(AnswerVersion).where(AnswerVersion.session_id == sid,
                                                        AnswerVersion.question_id == "4"))
        version.late, version.delay_s = True, 125.0  # as if it had been queued offline
        line = db.scalar(select(ManifestLine).where(ManifestLine.session_id == sid)
                         .order_by(ManifestLine.seq.desc()).limit(1))
        db.add(ManifestLine(session_id=sid, track=line.track, seq=line.seq + 1,
                            sha256="0" * 64, line='{"note": "not yet uploaded"}'))
        exam_id = session.exam_id
        db.commit()
    page = http.get(f"{server.url}/review/sessions/{sid}", timeout=10).text
    late_rows = re.findall(r'<li class="question late" data-question="([^"]+)"', page)
    assert late_rows == ["4"] and "迟交 · 晚 125 秒送达" in page

    tile = http.get(f"{server.url}/review/exams/{exam_id}/wall.json", timeout=10).json()["tiles"]
    assert [t["session_id"] for t in tile] == [sid]
    assert tile[0]["finished"] is True and tile[0]["online"] is False
    assert tile[0]["backlog"] == 1  # the line whose segment never arrived
    assert tile[0]["flags"][0]["kind"] == "prohibited_program"
    assert tile[0]["flags"][0]["severity"] == "critical"
    picture = http.get(f"{server.url}/review/sessions/{sid}/picture.jpg", timeout=30)
    assert picture.headers["content-type"] == "image/jpeg"
    assert picture.content[:2] == b"\xff\xd8"


def test_english_on_request(review_server):
    english = requests.get(review_server.url + "/review/", timeout=10,
                           headers={"Accept-Language": "en-GB,en;q=0.8"}).text
    assert "Log in" in english and "登录" not in english
    chinese = requests.get(review_server.url + "/review/", timeout=10).text
    assert "登录" in chinese
    assert "Log in" in requests.get(review_server.url + "/review/?lang=en", timeout=10).text
