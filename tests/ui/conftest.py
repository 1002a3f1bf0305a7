"""UI tests: pytest-qt offscreen against the real reference server on 127.0.0.1."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6.QtWidgets", reason="the GUI needs PySide6")

from tests.conftest import styled_app  # noqa: E402
from tests.exam.conftest import camera_video, devices  # noqa: E402,F401 - fixtures
from zhishiyun.config import load_settings  # noqa: E402

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
