"""Every answer version on the server: kept with its times and chain hash, the newest saved
before the end stays the answer, old databases get their answers as versions."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime, timezone

import pytest
import requests
from sqlalchemy import select, text

from tests.exam.conftest import server_rows
from tests.review.answer_sitting import TEXTS, sitting_with_versions
from tests.review.conftest import staff_login


def test_every_version_is_kept_and_one_saved_after_the_end_is_not_the_answer(
        review_server, tmp_path):
    sitting = sitting_with_versions(review_server, tmp_path)
    replies = sitting.replies
    assert [replies[v].status_code for v in (1, 2, 3)] == [200, 200, 200]
    assert replies[3].json()["late"] is True and replies[3].json()["delay_s"] > 800
    assert replies[4].status_code == 409
    assert replies[4].json()["error"]["code"] == "saved_after_end"

    answers = requests.get(f"{review_server.url}/api/v1/sessions/{sitting.session_id}/answers",
                           headers={"Authorization": f"Bearer {sitting.token}"}, timeout=10)
    [answer] = answers.json()
    assert (answer["version"], answer["content"]) == (3, TEXTS[3])  # not v4, saved after it

    kept = {row.version: row for row in server_rows(review_server, "AnswerVersion",
                                                    sitting.session_id)}
    assert sorted(kept) == [1, 2, 3, 4]
    for version, row in kept.items():
        assert row.content == TEXTS[version]
        assert row.sha256 == sitting.chain_hashes[version]  # the line the candidate signed
        assert row.saved_at == sitting.saved_at[version].replace(microsecond=(
            sitting.saved_at[version].microsecond // 1000 * 1000))
    assert [kept[v].late for v in (1, 2, 3)] == [False, False, True]
    assert [kept[v].refused for v in (1, 2, 3, 4)] == [None, None, None, "saved_after_end"]


def test_a_version_arriving_after_a_newer_one_is_kept_but_not_the_answer(review_server,
                                                                         tmp_path):
    from tests.exam.conftest import login, shape

    client = login(review_server.url)
    exam_id = shape(review_server, "written", start_in=0, duration_s=600)
    client.accept(exam_id)
    sid = client.enter(exam_id).session_id
    client.put_answer(sid, "2", 2, "较新的")
    url = f"{review_server.url}/api/v1/sessions/{sid}/answers/2"
    older = requests.put(url, headers=client.auth_headers(), timeout=10,
                         json={"version": 1, "content": "较早的"})
    assert older.status_code == 409 and older.json()["error"]["code"] == "stale_version"
    again = requests.put(url, headers=client.auth_headers(), timeout=10,
                         json={"version": 2, "content": "较新的"})
    assert again.status_code == 200  # a retry of what is stored adds nothing
    kept = sorted((r.version, r.content, r.refused)
                  for r in server_rows(review_server, "AnswerVersion", sid))
    assert kept == [(1, "较早的", "stale_version"), (2, "较新的", None)]


def test_the_session_page_and_the_export_hold_every_version(review_server, tmp_path):
    sitting = sitting_with_versions(review_server, tmp_path)
    http = staff_login(review_server.url)
    page = http.get(f"{review_server.url}/review/sessions/{sitting.session_id}",
                    timeout=10).text
    for version_text in TEXTS.values():
        assert version_text in page
    assert "全部版本（4）" in page and "结束后保存，未计入" in page and "迟交" in page

    reply = http.get(f"{review_server.url}/review/sessions/{sitting.session_id}/export.zip",
                     timeout=60)
    archive = zipfile.ZipFile(io.BytesIO(reply.content))
    [question] = json.loads(archive.read("answers.json"))
    assert question["answer"]["version"] == 3 and question["answer"]["late"] is True
    listed = {v["version"]: v for v in question["versions"]}
    assert sorted(listed) == [1, 2, 3, 4]
    assert {v: listed[v]["content"] for v in listed} == TEXTS
    assert listed[4]["refused"] == "saved_after_end" and not listed[4]["current"]
    assert {v: listed[v]["sha256"] for v in listed} == sitting.chain_hashes


def test_upgrading_an_old_database_turns_its_answers_into_versions(tmp_path):
    _check_backfill(f"sqlite:///{tmp_path / 'server.db'}")


@pytest.mark.postgres
def test_upgrading_an_old_postgres_database_turns_its_answers_into_versions():
    from tests.server.support import fresh_pg_database

    with fresh_pg_database() as url:
        _check_backfill(url)


def _check_backfill(url: str) -> None:
    from alembic import command

    from zhishiyun_server.db import make_engine, make_session_factory
    from zhishiyun_server.migrate import alembic_config, upgrade
    from zhishiyun_server.models import AnswerVersion

    engine = make_engine(url)
    config = alembic_config(engine)
    for revision in ("0001_initial", "0003_upload_manifest", "0010_late_answers"):
        command.upgrade(config, revision)
    line = json.dumps({"seq": 0, "track": "answers", "question": "1", "version": 2,
                       "sha256": "ab" * 32, "start": "2026-11-30T09:10:00.000+00:00"})
    with engine.begin() as db:
        for statement in (
                "INSERT INTO exams (id, name, kind, entry_opens_at, entry_closes_at, starts_at, "
                "duration_s, lottery_required, requires_second_camera, rules, created_at) "
                "VALUES (1, '笔试', 'written', '2026-11-30 08:00:00', '2026-11-30 09:30:00', "
                "'2026-11-30 09:00:00', 3600, false, false, '', '2026-11-01 08:00:00')",
                "INSERT INTO candidates (id, name, id_number, phone, email, created_at) VALUES "
                "(1, '张三', '110101199003070011', '', '', '2026-11-01 08:00:00')",
                "INSERT INTO exam_sessions (id, exam_id, candidate_id, session_key, entered_at) "
                "VALUES ('s1', 1, 1, 'k', '2026-11-30 08:59:00')",
                "INSERT INTO answers (id, session_id, question_id, version, content, updated_at)"
                " VALUES (1, 's1', '1', 2, '旧库里的答案', '2026-11-30 11:00:00'), "
                "(2, 's1', '2', 1, '没有时间记录', '2026-11-30 09:20:00')",
                "INSERT INTO answer_timings (id, session_id, question_id, version, saved_at, "
                "late, delay_s) VALUES (1, 's1', '1', 2, '2026-11-30 09:10:00', true, 6600.0)"):
            db.execute(text(statement))
        db.execute(text("INSERT INTO manifest_lines (id, session_id, track, seq, sha256, line, "
                        "received_at) VALUES (1, 's1', 'answers', 0, 'x', :line, "
                        "'2026-11-30 11:00:00')"), {"line": line})
    upgrade(engine)
    with make_session_factory(engine)() as db:
        rows = [(r.question_id, r.version, r.content, r.saved_at, r.late, r.delay_s, r.sha256,
                 r.refused) for r in db.scalars(select(AnswerVersion)
                                                .order_by(AnswerVersion.question_id))]
    engine.dispose()
    assert rows == [
        ("1", 2, "旧库里的答案", datetime(2026, 11, 30, 9, 10, tzinfo=timezone.utc), True,
         6600.0, "ab" * 32, None),
        ("2", 1, "没有时间记录", None, False, None, None, None)]


def test_the_session_page_lists_every_version_collapsed_in_chromium(browser, review_server,
                                                                    tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.review.conftest import browser_login, screenshot

    sitting = sitting_with_versions(review_server, tmp_path)
    browser_login(browser, review_server.url)
    WebDriverWait(browser, 20).until(ec.url_contains("/review/exams"))
    browser.get(f"{review_server.url}/review/sessions/{sitting.session_id}")
    question = browser.find_element(By.CSS_SELECTOR, 'li.question[data-question="1"]')
    assert question.find_element(By.CSS_SELECTOR, "pre.answer").text == TEXTS[3]
    assert "迟交" in question.find_element(By.CSS_SELECTOR, ".question-head").text
    versions = question.find_elements(By.CSS_SELECTOR, "ol.versions li")
    assert len(versions) == 4 and not any(v.is_displayed() for v in versions)  # collapsed
    question.find_element(By.CSS_SELECTOR, "details.versions summary").click()
    assert all(v.is_displayed() for v in versions)
    shown = {v.get_attribute("data-version"): v.text for v in versions}
    assert list(shown) == ["4", "3", "2", "1"]  # newest first
    assert TEXTS[4] in shown["4"] and "结束后保存，未计入" in shown["4"]
    assert "作为答案" in shown["3"] and "迟交" in shown["3"] and "作为答案" not in shown["4"]
    assert TEXTS[1] in shown["1"] and "迟交" not in shown["1"]
    browser.execute_script("document.getElementById('answers').scrollIntoView()")
    screenshot(browser, "answers", height=760)


def test_a_version_changed_in_the_database_breaks_the_answers_chain(review_server, tmp_path):
    from tests.exam.conftest import server_db
    from zhishiyun_server.models import AnswerVersion

    sitting = sitting_with_versions(review_server, tmp_path)
    url = f"{review_server.url}/api/v1/sessions/{sitting.session_id}/recordings"
    bearer = {"Authorization": f"Bearer {sitting.token}"}

    def chain_ok() -> bool:
        return requests.get(url, headers=bearer, timeout=10).json()["tracks"]["answers"][
            "chain_ok"]

    assert chain_ok() is True
    with server_db(review_server)() as db:  # an old version rewritten after the fact
        row = db.scalar(select(AnswerVersion).where(
            AnswerVersion.session_id == sitting.session_id, AnswerVersion.version == 1))
        row.content = "事后改过的第一稿"
        db.commit()
    assert chain_ok() is False


def _racing_saves(server) -> None:
    import random
    from concurrent.futures import ThreadPoolExecutor

    from tests.exam.conftest import login, shape

    client = login(server.url)
    exam_id = shape(server, "written", start_in=0, duration_s=600)
    client.accept(exam_id)
    sid = client.enter(exam_id).session_id
    url = f"{server.url}/api/v1/sessions/{sid}/answers/race"
    versions = list(range(1, 41))
    random.Random(7).shuffle(versions)

    def save(version: int) -> tuple[int, int]:
        with requests.Session() as http:
            reply = http.put(url, headers=client.auth_headers(), timeout=30,
                             json={"version": version, "content": f"v{version}"})
        return version, reply.status_code

    with ThreadPoolExecutor(4) as pool:
        codes = dict(pool.map(save, versions + versions[:10]))  # ten sent twice
    assert set(codes.values()) <= {200, 409}
    kept = [(r.version, r.content, r.refused) for r in server_rows(server, "AnswerVersion", sid)]
    assert sorted(v for v, _, _ in kept) == list(range(1, 41))  # each once, none lost
    assert all(content == f"v{v}" for v, content, _ in kept)
    assert {v for v, _, refused in kept if refused is None} >= {40}
    answers = requests.get(f"{server.url}/api/v1/sessions/{sid}/answers",
                           headers=client.auth_headers(), timeout=10).json()
    assert [(a["version"], a["content"]) for a in answers] == [(40, "v40")]


def test_racing_saves_keep_every_version_once(server_factory):
    _racing_saves(server_factory())


@pytest.mark.postgres
def test_racing_saves_keep_every_version_once_on_postgres(server_factory):
    from tests.server.support import fresh_pg_database

    with fresh_pg_database() as url:
        server = server_factory(db_url=url)
        try:
            _racing_saves(server)
        finally:
            server.stop()  # before the database is dropped
