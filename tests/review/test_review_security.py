"""Who gets what from /review/: staff only, CSRF on every form, login limits, audit."""

from __future__ import annotations

import requests
from fastapi.testclient import TestClient

from tests.review.conftest import (
    STAFF,
    add_staff,
    admin,
    candidate_token,
    csrf_of,
    staff_login,
)

PAGES = ("/review/exams", "/review/exams/1/wall", "/review/sessions/{sid}", "/review/audit")
DATA = ("/review/exams/1/wall.json", "/review/sessions/{sid}/tracks/camera.mp4",
        "/review/sessions/{sid}/picture.jpg", "/review/sessions/{sid}/export.zip")


def test_anonymous_and_candidate_tokens_get_nothing(finished_exam):
    server, summary = finished_exam
    sid = summary["session_id"]
    bearer = {"Authorization": f"Bearer {candidate_token(server.url)}"}
    for headers in ({}, bearer):
        for path in PAGES:
            reply = requests.get(server.url + path.format(sid=sid), headers=headers,
                                 allow_redirects=False, timeout=10)
            assert reply.status_code == 302, (path, headers, reply.status_code)
            assert reply.headers["location"] == "/review/"
        for path in DATA:
            reply = requests.get(server.url + path.format(sid=sid), headers=headers,
                                 timeout=10)
            assert reply.status_code == 401, (path, reply.status_code)
            assert reply.json()["error"]["code"] == "unauthorized"
            assert not reply.content.startswith((b"PK", b"\xff\xd8"))
        reply = requests.post(f"{server.url}/review/sessions/{sid}/verdict", headers=headers,
                              data={"verdict": "no_issue", "csrf": "x"}, timeout=10)
        assert reply.status_code == 401
    assert "verdict" not in admin(server, "audit-log").stdout


def test_forms_need_the_login_csrf_token_and_pages_carry_a_csp(finished_exam):
    server, summary = finished_exam
    sid = summary["session_id"]
    http = staff_login(server.url)
    page = http.get(f"{server.url}/review/sessions/{sid}", timeout=10)
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "<script>" not in page.text  # no inline script: the CSP would block it
    for token in ("", "not-the-token"):
        refused = http.post(f"{server.url}/review/sessions/{sid}/verdict", timeout=10,
                            data={"verdict": "violation", "notes": "x", "csrf": token})
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "csrf_failed"
    assert "verdict" not in admin(server, "audit-log").stdout
    saved = http.post(f"{server.url}/review/sessions/{sid}/verdict", timeout=10,
                      data={"verdict": "suspicious", "notes": "看向屏幕外",
                            "csrf": csrf_of(http, server.url)})
    assert saved.status_code == 200 and "可疑" in saved.text
    log = admin(server, "audit-log", "--json").stdout
    assert '"action": "verdict"' in log and "看向屏幕外" in log

    logout = http.post(f"{server.url}/review/logout", timeout=10,
                       data={"csrf": csrf_of(http, server.url)}, allow_redirects=False)
    assert logout.status_code == 303
    http.cookies.set("zsy_review", logout.request.headers["cookie"].split("zsy_review=")[1]
                     .split(";")[0], path="/review/")
    after = http.get(f"{server.url}/review/exams", allow_redirects=False, timeout=10)
    assert after.status_code == 302  # the old cookie no longer works


def test_login_cookie_flags_limits_and_the_login_form_token(review_server):
    url = review_server.url
    http = requests.Session()
    http.get(url + "/review/", timeout=10)
    no_token = http.post(url + "/review/login", data={"name": STAFF[0], "password": STAFF[1]},
                         allow_redirects=False, timeout=10)
    assert no_token.status_code == 403 and "zsy_review=" not in \
        no_token.headers.get("set-cookie", "").replace("zsy_review_login=", "")
    ok = staff_login(url)
    cookie = next(c for c in ok.cookies if c.name == "zsy_review")
    assert cookie.has_nonstandard_attr("HttpOnly") and cookie.path == "/review/"
    assert cookie.get_nonstandard_attr("SameSite").lower() == "strict"
    assert not cookie.secure  # plain HTTP on 127.0.0.1; HTTPS below
    statuses = []
    for _ in range(7):
        form = requests.Session()
        page = form.get(url + "/review/", timeout=10).text
        csrf = page.split('name="csrf" value="')[1].split('"')[0]
        statuses.append(form.post(url + "/review/login", timeout=30, data={
            "name": STAFF[0], "password": "wrong-password", "csrf": csrf}).status_code)
    assert statuses[:5] == [401] * 5 and statuses[-1] == 429


def test_cookie_is_secure_over_https(tmp_path):
    from zhishiyun_server.app import create_app
    from zhishiyun_server.db import session_scope
    from zhishiyun_server.review.auth import add_staff
    from zhishiyun_server.settings import ServerConfig

    app = create_app(ServerConfig(data_dir=tmp_path))
    with session_scope(app.state.session_factory) as db:
        add_staff(db, "审核员", "reviewer", "a-long-password")
    with TestClient(app, base_url="https://exam.example.cn") as client:
        page = client.get("/review/")
        assert "Secure" in page.headers["set-cookie"]
        csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
        reply = client.post("/review/login", follow_redirects=False, data={
            "name": "审核员", "password": "a-long-password", "csrf": csrf})
        assert reply.status_code == 303
        assert "Secure" in reply.headers["set-cookie"] and "HttpOnly" in \
            reply.headers["set-cookie"]


def test_add_staff_rejects_a_short_password_in_one_line(review_server):
    done = admin(review_server, "add-staff", "--name", "李老师", "--role", "reviewer",
                 stdin="short\n")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: the password must have at least 10 characters"]


def test_help_api_checks_text_and_owner(finished_exam):
    server, summary = finished_exam
    sid = summary["session_id"]
    bearer = {"Authorization": f"Bearer {candidate_token(server.url)}"}
    empty = requests.post(f"{server.url}/api/v1/sessions/{sid}/help", headers=bearer,
                          json={"text": "   "}, timeout=10)
    assert empty.status_code == 422 and empty.json()["error"]["code"] == "invalid_text"
    other = requests.post(f"{server.url}/api/v1/sessions/{'0' * 32}/help", headers=bearer,
                          json={"text": "帮助"}, timeout=10)
    assert other.status_code == 404
    anonymous = requests.get(f"{server.url}/api/v1/sessions/{sid}/help", timeout=10)
    assert anonymous.status_code == 401
    asked = requests.post(f"{server.url}/api/v1/sessions/{sid}/help", headers=bearer,
                          json={"text": "能延长时间吗？"}, timeout=10).json()
    done = admin(server, "help-reply", str(asked["id"]), "--text", "不能延长。", "--by", "赵老师")
    assert done.returncode == 0, done.stderr
    listed = requests.get(f"{server.url}/api/v1/sessions/{sid}/help", headers=bearer,
                          timeout=10).json()["requests"]
    assert [r["text"] for r in listed[0]["replies"]] == ["不能延长。"]
    assert "赵老师" not in str(listed)
    assert "赵老师\thelp_reply" in admin(server, "audit-log").stdout


def test_out_of_range_ids_are_a_clear_error_not_a_crash(review_server):
    http = staff_login(review_server.url)
    csrf = csrf_of(http, review_server.url)
    for path in ("/review/exams/{n}/wall", "/review/exams/{n}/wall.json"):
        for n in (10**30, -1):
            reply = http.get(review_server.url + path.format(n=n), timeout=10)
            assert reply.status_code == 422, (path, n, reply.status_code)
    reply = http.post(f"{review_server.url}/review/help/{10**30}/reply", timeout=10,
                      data={"csrf": csrf, "text": "好"})
    assert reply.status_code == 422
    missing = http.post(f"{review_server.url}/review/help/123/reply", timeout=10,
                        data={"csrf": csrf, "text": "好"})
    assert missing.status_code == 404


def test_only_admins_read_the_audit_log_in_the_browser(review_server):
    add_staff(review_server, "审核员甲", "reviewer-pass-1", role="reviewer")
    reviewer = staff_login(review_server.url, "审核员甲", "reviewer-pass-1")
    assert reviewer.get(review_server.url + "/review/audit", timeout=10).status_code == 403
    page = staff_login(review_server.url).get(review_server.url + "/review/audit", timeout=10)
    assert page.status_code == 200 and "审核员甲" in page.text  # its login is in the log
