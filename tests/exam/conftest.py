"""Helpers for the exam-core tests: a shaped demo server, a logged-in runtime, real devices."""

from __future__ import annotations

import os
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from zhishiyun.api.client import ServerClient
from zhishiyun.api.tokens import MemoryTokenStore

REPO_ROOT = Path(__file__).resolve().parents[2]
ZHANG = ("110101199003070011", "zsy-demo-1")
#: Small, fast recordings for tests (the server's /config carries them to the client).
TEST_RECORDING = {"segment_seconds": 2, "screen_fps": 2, "screen_max_side": 640,
                  "camera_width": 320, "camera_height": 240, "camera_fps": 8,
                  "keyframe_seconds": 1, "x264_preset": "ultrafast", "disk_floor_gb": 0.05,
                  "disk_warn_gb": 0.1}


def server_db(server):
    """A SQLAlchemy session factory on the test server's database (test-side admin)."""
    from zhishiyun_server.db import make_engine, make_session_factory

    return make_session_factory(make_engine(server.db_url))


def shape(server, kind: str, *, start_in: float, duration_s: int,
          recording: dict | None = None) -> int:
    """Move the demo exam of ``kind`` to start ``start_in`` s from now; returns its id."""
    from sqlalchemy import select

    from zhishiyun_server.demo import INTERVIEW, WRITTEN_EXAM
    from zhishiyun_server.models import Exam, Organisation

    factory = server_db(server)
    with factory() as db:
        name = WRITTEN_EXAM if kind == "written" else INTERVIEW
        exam = db.scalar(select(Exam).where(Exam.name == name))
        now = datetime.now(timezone.utc)
        exam.entry_opens_at = now - timedelta(minutes=5)
        exam.entry_closes_at = now + timedelta(minutes=30)
        exam.starts_at = now + timedelta(seconds=start_in)
        exam.duration_s = duration_s
        org = db.scalar(select(Organisation))
        org.recording = dict(recording if recording is not None else TEST_RECORDING)
        db.commit()
        return exam.id


def server_rows(server, model_name: str, session_id: str) -> list:
    """Rows of a server table for ``session_id`` (events, answers, recording segments)."""
    from sqlalchemy import select

    from zhishiyun_server import models

    model = getattr(models, model_name)
    with server_db(server)() as db:
        return list(db.scalars(select(model).where(model.session_id == session_id)))


def login(url: str, read_timeout: float = 5.0) -> ServerClient:
    """张三 logged in by password; short timeouts, so a test of a dead server ends soon."""
    client = ServerClient(url, token_store=MemoryTokenStore(url), retries=1, backoff=0.2,
                          connect_timeout=2.0, read_timeout=read_timeout)
    client.store_login(client.login_password(*ZHANG))
    return client


@pytest.fixture(scope="session")
def camera_video(tmp_path_factory) -> Path:
    """A short moving-picture video file standing in for the webcam."""
    import cv2
    import numpy as np

    path = tmp_path_factory.mktemp("camera") / "camera.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 8, (320, 240))
    for i in range(16):
        frame = np.full((240, 320, 3), (40 + i * 10, 120, 200 - i * 8), np.uint8)
        cv2.circle(frame, (40 + i * 15, 120), 30, (255, 255, 255), -1)
        writer.write(frame)
    writer.release()
    return path


def pulse_running() -> bool:
    try:
        return subprocess.run(["pactl", "info"], capture_output=True, timeout=3).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture
def devices(camera_video):
    """Recorder devices: the screen (needs DISPLAY), the stand-in camera, vmic when present."""
    if not os.environ.get("DISPLAY"):
        from tests.conftest import require

        require("Xvfb", "no DISPLAY: start Xvfb (scripts/services.sh start_display)")
    mic = None if pulse_running() else "none"
    return {"camera": str(camera_video), "microphone": mic}


@pytest.fixture
def secret_service(tmp_path_factory):
    """A real Secret Service (gnome-keyring on a private D-Bus session): the environment.

    ``zhishiyun exam run`` keeps its login there so a later ``zhishiyun upload`` (another
    process, as a candidate would run it) finds the token, as on a desktop.
    """
    import shutil

    from tests.conftest import require

    if not (shutil.which("dbus-daemon") and shutil.which("gnome-keyring-daemon")):
        require("gnome-keyring", "a real keyring shared by two client processes "
                                 "(apt: dbus gnome-keyring)")
    home = tmp_path_factory.mktemp("keyring-home")
    bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1"],
                           stdout=subprocess.PIPE, text=True)
    address = bus.stdout.readline().strip()
    env = {"DBUS_SESSION_BUS_ADDRESS": address, "HOME": str(home)}
    keyring = subprocess.Popen(
        ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, **env})
    keyring.stdin.write(b"test")
    keyring.stdin.close()
    try:
        probe = "import keyring; print(type(keyring.get_keyring()).__module__)"
        import sys
        import time

        for _attempt in range(50):
            out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                                 env={**os.environ, **env}).stdout
            if "SecretService" in out:
                break
            time.sleep(0.1)
        yield env
    finally:
        for process in (keyring, bus):
            process.terminate()
            process.wait(10)
