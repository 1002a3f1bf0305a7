"""UI tests: pytest-qt offscreen against the real reference server on 127.0.0.1."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("PySide6.QtWidgets", reason="the GUI needs PySide6")

from tests.conftest import styled_app  # noqa: E402
from tests.exam.conftest import camera_video, devices  # noqa: E402,F401 - fixtures
from zhishiyun.config import load_settings  # noqa: E402

FACE_TESTS = Path(__file__).resolve().parent.parent / "face"

DEMO_ID = "110101199003070011"
DEMO_PASSWORD = "zsy-demo-1"

pytestmark = [pytest.mark.ui, pytest.mark.integration]


@pytest.fixture(autouse=True)
def ui_app(qapp):
    """The app's look and the main-thread bridge, in English (assertions read texts)."""
    with styled_app(qapp, "en") as app:
        yield app


def make_services(url: str, check_ids=("server", "version", "clock")):
    """Services as ``app.run`` builds them, for a given server."""
    from zhishiyun.ui.app import build_services

    services = build_services(load_settings({"server_url": url}))
    services.check_ids = list(check_ids)
    return services


def logged_in_client(url: str):
    """A ServerClient logged in as the demo candidate 张三."""
    from zhishiyun.api.client import ServerClient

    client = ServerClient.from_settings(load_settings({"server_url": url}))
    client.login_password(DEMO_ID, DEMO_PASSWORD)
    return client


@pytest.fixture(scope="module")
def face_video(tmp_path_factory):
    """A looping video of a face (the face tests' pose generator) standing in for a webcam."""
    pytest.importorskip("dlib", reason="face verification needs dlib (server extra)")
    sys.path.insert(0, str(FACE_TESTS))
    try:
        import faces  # the face tests' own pose generator (astronaut, scikit-image)
    except ImportError as exc:
        pytest.skip(f"face test helpers unavailable: {exc}")
    finally:
        sys.path.remove(str(FACE_TESTS))
    return faces.write_cycle_video(tmp_path_factory.mktemp("camera") / "face.avi",
                                   "astronaut", pose_s=0.4, seconds=6.4)  # looped by the source
