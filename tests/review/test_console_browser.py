"""The review console in a real Chromium against the real server and a real headless exam."""

from __future__ import annotations

from datetime import datetime

import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.exam.helpers import wait_for
from tests.review.conftest import (
    STAFF,
    ZHANG,
    admin,
    browser_login,
    candidate_token,
    during_session,
    finish_exam,
    screenshot,
    start_exam,
)
from zhishiyun.api.client import ServerClient
from zhishiyun.api.tokens import MemoryTokenStore


def _wait(driver, timeout: float = 20):
    return WebDriverWait(driver, timeout)


def test_staff_login_then_exam_list_with_counts(browser, review_server):
    browser.get(review_server.url + "/review/exams")  # not logged in: the login form
    assert browser.current_url.endswith("/review/")
    browser_login(browser, review_server.url, password="wrong-password-1")
    error = _wait(browser).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".error")))
    assert error.text == "账号或密码错误。"
    screenshot(browser, "login", height=600)

    browser_login(browser, review_server.url)
    _wait(browser).until(ec.url_contains("/review/exams"))
    rows = browser.find_elements(By.CSS_SELECTOR, "table.exams tbody tr")
    names = [row.find_element(By.CSS_SELECTOR, "td a").text for row in rows]
    assert "2026 年春季招聘笔试（演示）" in names
    finished = next(r for r in rows if "已结束" in r.text)  # the demo's finished exam
    counts = {cell.get_attribute("data-count"): int(cell.text)
              for cell in finished.find_elements(By.CSS_SELECTOR, "td[data-count]")}
    assert counts["enrolled"] == 2 and counts["entered"] == 1 and counts["finished"] == 1
    assert browser.find_element(By.TAG_NAME, "th").text == "考试"  # Chinese by default
    screenshot(browser, "exams", height=500)

    browser.get(review_server.url + "/review/exams?lang=en")
    assert browser.find_element(By.TAG_NAME, "th").text == "Exam"
    log = admin(review_server, "audit-log").stdout
    assert "login_failed" in log and f"{STAFF[0]}\tlogin" in log


def test_live_wall_shows_the_recording_candidate_and_the_picture_updates(
        browser, review_server, camera_video, tmp_path):
    process = start_exam(review_server, camera_video, 24, tmp_path)
    try:
        browser_login(browser, review_server.url)
        _wait(browser).until(ec.url_contains("/review/exams"))
        browser.find_element(By.LINK_TEXT, "2026 年春季招聘笔试（演示）").click()
        _wait(browser, 40).until(ec.presence_of_element_located(
            (By.CSS_SELECTOR, ".tile .picture img")))
        # Tiles are redrawn every few seconds: read each state in one script call.
        read = ("const t = document.querySelector('.tile'); const i = t.querySelector('img');"
                "return {name: t.querySelector('.name').textContent,"
                " state: t.querySelector('.state').textContent,"
                " seq: i ? Number(i.dataset.seq) : -1,"
                " width: i && i.complete ? i.naturalWidth : 0};")
        assert "张三" in browser.execute_script(read)["name"]
        first = wait_for(lambda: (lambda s: s if s["width"] else None)(
            browser.execute_script(read)), 20, "a loaded picture")
        wait_for(lambda: (lambda s: s["seq"] > first["seq"] and s["width"] > 0)(
            browser.execute_script(read)), 30, "a newer camera picture on the tile")
        assert "在线" in browser.execute_script(read)["state"]
        screenshot(browser, "wall", height=600)
        browser.execute_script("document.querySelector('.tile').click()")
        _wait(browser).until(ec.url_contains("/review/sessions/"))
    finally:
        finish_exam(process)


def test_session_page_plays_the_camera_and_an_event_click_seeks(browser, finished_exam):
    server, summary = finished_exam
    browser_login(browser, server.url)
    _wait(browser).until(ec.url_contains("/review/exams"))
    browser.get(f"{server.url}/review/sessions/{summary['session_id']}")
    camera = _wait(browser).until(ec.presence_of_element_located((By.ID, "video-camera")))
    browser.execute_script("arguments[0].muted = true; arguments[0].play();", camera)
    state = "return [arguments[0].currentTime, arguments[0].error && arguments[0].error.code]"
    wait_for(lambda: browser.execute_script(state, camera)[0] > 1.5, 20,
             "the camera video playing")
    assert browser.execute_script(state, camera)[1] is None
    duration = browser.execute_script("return arguments[0].duration", camera)
    assert duration > 8  # all segments in one file, not just the first 2 s
    browser.execute_script("arguments[0].pause()", camera)

    rows = browser.find_elements(By.CSS_SELECTOR, "tr.event")
    last = rows[-1]  # exam_finished, at the very end
    last.click()
    moved = wait_for(lambda: browser.execute_script(state, camera)[0] > duration - 3, 10,
                     "the player at the end after clicking the last event")
    assert moved
    assert "current" in last.get_attribute("class")
    rows[0].click()
    wait_for(lambda: browser.execute_script(state, camera)[0] < 3, 10,
             "the player back at the start after clicking the first event")
    screen = browser.find_elements(By.ID, "video-screen")
    if screen:  # the screen follows the camera
        wait_for(lambda: abs(browser.execute_script(state, screen[0])[0]
                             - browser.execute_script(state, camera)[0]) < 1, 10,
                 "the screen in sync with the camera")
    ticks = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#event-strip .tick"), 10,
                     "the event strip under the players")
    assert len(ticks) == len(rows)
    ticks[-1].click()  # the strip seeks like the table
    wait_for(lambda: browser.execute_script(state, camera)[0] > duration - 3, 10,
             "the player at the end after clicking the last tick")
    answers = browser.find_element(By.CSS_SELECTOR, "#answers").text
    assert "片段录制是崩溃安全的" in answers


def test_a_reply_to_a_help_request_reaches_the_candidate(browser, finished_exam):
    server, summary = finished_exam
    sid = summary["session_id"]
    token = candidate_token(server.url)
    bearer = {"Authorization": f"Bearer {token}"}
    client = ServerClient(server.url, token_store=MemoryTokenStore(server.url), retries=1)
    client.store_login(client.login_password(*ZHANG))  # the candidate's own client
    asked = client.send_help(sid, "摄像头画面卡住了，怎么办？")
    first = client.help_requests(sid)
    assert [(r["id"], r["replies"]) for r in first] == [(asked["id"], [])]
    at = during_session(server, sid)  # the recorded exam finished a while ago
    sent = requests.post(f"{server.url}/api/v1/sessions/{sid}/events", headers=bearer, json={
        "events": [{"id": "t-focus", "kind": "focus_lost", "at": at, "details": {}},
                   {"id": "t-display", "kind": "display_added", "at": at,
                    "details": {"count": 2}}]}, timeout=10)
    assert sent.ok, sent.text
    browser_login(browser, server.url)
    _wait(browser).until(ec.url_contains("/review/exams"))
    browser.get(f"{server.url}/review/sessions/{sid}")
    box = browser.find_element(By.CSS_SELECTOR, f"#help-{asked['id']} textarea")
    assert "摄像头画面卡住了" in browser.find_element(By.ID, "help").text
    levels = {row.find_elements(By.TAG_NAME, "td")[2].text: row.get_attribute("class")
              for row in browser.find_elements(By.CSS_SELECTOR, "tr.event")}
    assert "sev-warning" in levels["focus_lost"] and "sev-critical" in levels["display_added"]
    box.send_keys("请检查摄像头连接，录像不受影响。")
    box.find_element(By.XPATH, "following-sibling::button").click()
    _wait(browser).until(ec.text_to_be_present_in_element((By.ID, "help"), "请检查摄像头连接"))

    listed = client.help_requests(sid)  # what the exam window polls
    assert listed[0]["replies"][0]["text"] == "请检查摄像头连接，录像不受影响。"
    assert listed[0]["replies"][0]["from"] == "staff"  # no staff name for the candidate
    datetime.fromisoformat(listed[0]["replies"][0]["created_at"])

    browser.find_element(By.CSS_SELECTOR, "input[value=violation]").click()
    browser.find_element(By.NAME, "notes").send_keys("第 3 分钟有他人入镜")
    browser.find_element(By.CSS_SELECTOR, "form.verdict button").click()
    _wait(browser).until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, ".verdict-now"),
                                                          "违规"))
    browser.execute_script("window.scrollTo(0, 0); const v = window.zsyReview.master;"
                           "v.currentTime = Math.min(5, v.duration / 2);")
    wait_for(lambda: browser.execute_script("return window.zsyReview.master.readyState") >= 2,
             10, "a frame at the new position")
    screenshot(browser, "session", height=1900)
    log = admin(server, "audit-log").stdout
    assert f"{STAFF[0]}\thelp_reply\t{sid}" in log and f"{STAFF[0]}\tverdict\t{sid}" in log
