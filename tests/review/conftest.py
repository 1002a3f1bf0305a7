"""Review console tests: a demo server with a staff account, a desktop Chromium, a real exam."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import requests

from tests.conftest import RunningServer, require
from tests.exam.conftest import camera_video, shape  # noqa: F401 - fixture (a video camera)

STAFF = ("王老师", "review-pass-2026")
ZHANG = ("110101199003070011", "zsy-demo-1")
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--window-size=1366,900",
                  "--autoplay-policy=no-user-gesture-required",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--lang=zh-CN")


def admin(server, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    """``zhishiyun-server admin ARGS`` on the test server's database."""
    return subprocess.run([sys.executable, "-m", "zhishiyun_server", "admin", "--db",
                           server.db_url, "--data", str(server.data_dir), *args],
                          input=stdin, capture_output=True, text=True, timeout=60)


def add_staff(server, name: str, password: str, role: str = "reviewer") -> None:
    """Create a console account the way an administrator does (password on stdin)."""
    done = admin(server, "add-staff", "--name", name, "--role", role, stdin=password + "\n")
    assert done.returncode == 0, done.stderr


def staff_login(url: str, name: str = STAFF[0], password: str = STAFF[1]) -> requests.Session:
    """A requests session logged in through the console's login form."""
    http = requests.Session()
    form = http.get(url + "/review/", timeout=10)
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    reply = http.post(url + "/review/login", timeout=30, allow_redirects=False,
                      data={"name": name, "password": password, "csrf": csrf})
    assert reply.status_code == 303, reply.text
    return http


def csrf_of(http: requests.Session, url: str) -> str:
    """The CSRF token of a logged-in console session (from any page's meta tag)."""
    page = http.get(url + "/review/exams", timeout=10).text
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def candidate_token(url: str) -> str:
    """张三's bearer token (password login)."""
    reply = requests.post(url + "/api/v1/auth/password", timeout=30,
                          json={"id_number": ZHANG[0], "password": ZHANG[1]})
    reply.raise_for_status()
    return reply.json()["token"]


@pytest.fixture(scope="session")
def staffed_demo(tmp_path_factory):
    """The data folder of a demo server with the administrator :data:`STAFF` (a template).

    Made once per run: seeding the demo and ``admin add-staff`` (a process and a scrypt
    hash) cost seconds that every console test would otherwise pay again.
    """
    data = tmp_path_factory.mktemp("staffed-demo")
    server = RunningServer(data_dir=data, db_url=f"sqlite:///{data}/server.db").start()
    try:
        add_staff(server, *STAFF, role="admin")
    finally:
        server.stop()
    return data


def server_on_copy(template: Path, tmp_path_factory) -> RunningServer:
    """A demo server of the test's own on a copy of ``template`` (database and uploads)."""
    data = tmp_path_factory.mktemp("server-data") / "copy"
    shutil.copytree(template, data)
    return RunningServer(data_dir=data, db_url=f"sqlite:///{data}/server.db").start()


@pytest.fixture
def review_server(staffed_demo, tmp_path_factory):
    """A demo server with an administrator account :data:`STAFF`."""
    server = server_on_copy(staffed_demo, tmp_path_factory)
    yield server
    server.stop()


def exam_command(server, camera: Path, seconds: float, answers: Path | None = None) -> list:
    """``zhishiyun exam run`` for 张三's written exam (screen only when there is a display)."""
    cmd = [sys.executable, "-m", "zhishiyun", "exam", "run", "--server", server.url,
           "--id-number", ZHANG[0], "--password-stdin", "--exam", "next", "--accept-rules",
           "--seconds", str(seconds), "--camera", str(camera), "--mic", "none"]
    if answers is not None:
        cmd += ["--answers", str(answers)]
    if not os.environ.get("DISPLAY"):
        cmd.append("--no-screen")
    return cmd


def start_exam(server, camera: Path, seconds: float, tmp_path: Path,
               answers: dict | None = None, env: dict | None = None) -> subprocess.Popen:
    """A headless exam recording for ``seconds`` (2 s segments), in the background.

    ``env``: the exam process's environment (default: the test's own).
    """
    shape(server, "written", start_in=1, duration_s=3600)
    answers_file = None
    if answers:
        answers_file = tmp_path / "answers.json"
        answers_file.write_text(json.dumps(answers, ensure_ascii=False), "utf-8")
    process = subprocess.Popen(exam_command(server, camera, seconds, answers_file),
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    process.stdin.write(ZHANG[1] + "\n")
    process.stdin.close()
    process.stdin = None  # communicate() must not flush it again
    return process


def during_session(server, session_id: str) -> str:
    """An instant inside the session (just before its finish), ISO 8601: events then count."""
    from datetime import timedelta

    from tests.exam.conftest import server_db
    from zhishiyun_server.models import ExamSession

    with server_db(server)() as db:
        return (db.get(ExamSession, session_id).finished_at - timedelta(seconds=2)).isoformat()


def finish_exam(process: subprocess.Popen, timeout: float = 180) -> dict:
    """Wait for a started exam; its JSON summary (everything must be on the server)."""
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, (out[-2000:], err[-2000:])
    return json.loads(out.strip().splitlines()[-1])


def _own_home(home: Path) -> dict:
    """The environment of a client process with its own config and data under ``home``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ZHISHIYUN_") or k.startswith("ZHISHIYUN_TEST_")}
    return {**env, "ZHISHIYUN_HOME": str(home),
            "ZHISHIYUN_SYSTEM_CONFIG": str(home / "system" / "zhishiyun.toml")}


@pytest.fixture(scope="session")
def recorded_exam(staffed_demo, tmp_path_factory, camera_video):  # noqa: F811 - fixture above
    """One real recorded exam for the whole run: (server data folder, exam summary).

    A demo server with the :data:`STAFF` account records a 10 s ``zhishiyun exam run``
    with two answers, everything uploaded; then it stops and its data folder (database and
    uploads) is the template that :func:`finished_exam` copies for each test.
    """
    server = server_on_copy(staffed_demo, tmp_path_factory)
    try:
        process = start_exam(server, camera_video, 10, tmp_path_factory.mktemp("answers"),
                             answers={"1": "片段录制是崩溃安全的", "4": "加密"},
                             env=_own_home(tmp_path_factory.mktemp("exam-home")))
        summary = finish_exam(process)
    finally:
        server.stop()
    return server.data_dir, summary


@pytest.fixture
def finished_exam(recorded_exam, tmp_path_factory):
    """(server, summary) of the run's recorded exam, on a server of this test's own.

    The server runs on a copy of the recording's data, so what a test changes (events,
    verdicts, replies, edited rows) is seen by no other test.
    """
    template, summary = recorded_exam
    server = server_on_copy(template, tmp_path_factory)
    yield server, summary
    server.stop()


@pytest.fixture
def browser():
    """A headless desktop Chromium driven by Selenium (Debian's chromium + chromium-driver)."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if missing:
        require("Chromium", f"{', '.join(missing)} absent: apt-get install chromium "
                            "chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="zsy-review-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM  # never let Selenium Manager download a browser
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_experimental_option("prefs", {"intl.accept_languages": "zh-CN,zh"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    try:
        driver.quit()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def browser_login(driver, url: str, name: str = STAFF[0], password: str = STAFF[1]) -> None:
    """Log in through the form the way a person does."""
    from selenium.webdriver.common.by import By

    driver.get(url + "/review/")
    driver.find_element(By.NAME, "name").send_keys(name)
    driver.find_element(By.NAME, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "form.login button").click()


SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def screenshot(driver, name: str, height: int = 900) -> None:
    """Save ``docs/screenshots/review-<name>.png`` when refreshing them.

    Only with ``ZHISHIYUN_TEST_SCREENSHOTS=1``, so ordinary runs leave docs/ alone.
    """
    if os.environ.get("ZHISHIYUN_TEST_SCREENSHOTS") != "1":
        return
    driver.set_window_size(1366, height)
    driver.save_screenshot(str(SCREENSHOTS / f"review-{name}.png"))
    driver.set_window_size(1366, 900)
