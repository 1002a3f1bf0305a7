"""Second camera tests: a demo server with short phone chunks, an entered session, Chromium."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.conftest import require
from tests.exam.conftest import camera_video, devices  # noqa: F401 - fixtures (real devices)
from zhishiyun.api.client import ServerClient
from zhishiyun.api.tokens import MemoryTokenStore

ZHANG = ("110101199003070011", "zsy-demo-1")
REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
#: Short phone chunks and a quick "lost", so the end-to-end test takes seconds, not minutes.
PHONE_ENV = {"ZHISHIYUN_SERVER_PHONE_SEGMENT_S": "4", "ZHISHIYUN_SERVER_PHONE_LOST_S": "4"}
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu",
                  "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--lang=zh-CN")


def needs_second_camera(server, exam_id: int) -> None:
    """Make the exam require the phone as a second camera (in the server's database)."""
    from sqlalchemy import select

    from tests.exam.conftest import server_db
    from zhishiyun_server.models import Exam

    with server_db(server)() as db:
        db.scalar(select(Exam).where(Exam.id == exam_id)).requires_second_camera = True
        db.commit()


def phone_exam_and_services(server, recorder_devices) -> tuple[int, object]:
    """A written exam needing the phone (entry open, start in 5 min); 张三's logged-in services.

    ``recorder_devices`` is the ``devices`` fixture: the real camera and microphone.
    """
    from tests.exam.conftest import shape
    from zhishiyun.config import load_settings
    from zhishiyun.ui.app import build_services

    exam_id = shape(server, "written", start_in=300, duration_s=600)
    needs_second_camera(server, exam_id)
    services = build_services(load_settings({
        "server_url": server.url, "camera": recorder_devices["camera"],
        "microphone": recorder_devices["microphone"] or ""}))
    services.client.login_password(*ZHANG)
    return exam_id, services


def server_rows(server, model, **where) -> list:
    """Rows of a server table (test-side look into the server's database)."""
    from sqlalchemy import select

    from zhishiyun_server.db import make_engine, make_session_factory

    engine = make_engine(server.db_url)
    try:
        with make_session_factory(engine)() as db:
            query = select(model).where(*(getattr(model, k) == v for k, v in where.items()))
            return list(db.scalars(query))
    finally:
        engine.dispose()


def enter_written_exam(url: str) -> tuple[ServerClient, object]:
    """Log 张三 in, accept his open written exam and enter it: (client, the entered session)."""
    client = ServerClient(url, token_store=MemoryTokenStore(url), retries=1, backoff=0.2)
    client.store_login(client.login_password(*ZHANG))
    exam = next(e for e in client.exams() if e.kind == "written" and e.state == "open")
    client.accept(exam.id)
    return client, client.enter(exam.id)


@pytest.fixture
def phone_server(server_factory):
    """A demo server whose phones cut 4 s chunks and count as lost after 4 s of silence."""
    return server_factory(env=dict(PHONE_ENV))


@pytest.fixture
def entered(phone_server):
    """(server, logged-in client, session id, session key) of 张三's written exam."""
    client, session = enter_written_exam(phone_server.url)
    yield phone_server, client, session.session_id, session.session_key
    client.close()


@pytest.fixture
def chromium():
    """A headless Chromium with a fake camera, driven by Selenium (phone-sized screen)."""
    if not (REPO / "zhishiyun_server" / "bindings" / "phone" / "vendor" / "tus.min.js").exists():
        require("tus-js-client build", "the phone page needs it: ./bootstrap.sh setup")
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if missing:
        pytest.skip(f"{', '.join(missing)} absent: apt-get install chromium chromium-driver")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="zsy-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM  # never let Selenium Manager download a browser
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_experimental_option("prefs", {"intl.accept_languages": "zh-CN,zh"})
    options.add_experimental_option("mobileEmulation", {
        "deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 2.0},
        "userAgent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
                     "(KHTML, like Gecko) Chrome/156.0 Mobile Safari/537.36"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    try:
        driver.quit()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
