"""Exam-window tests: pytest-qt offscreen, the real server, real recordings; zh_CN screenshots."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytest.importorskip("PySide6.QtWidgets", reason="the GUI needs PySide6")

from tests.conftest import styled_app  # noqa: E402
from tests.exam.conftest import camera_video, devices, login, shape  # noqa: E402,F401

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

pytestmark = [pytest.mark.ui, pytest.mark.integration]


@pytest.fixture(autouse=True)
def ui_app(qapp):
    """The app's look, the bridge, and Simplified Chinese (the default language)."""
    with styled_app(qapp, "zh_CN") as app:
        yield app


@pytest.fixture
def runtime_for(isolated_home):
    from zhishiyun.exam.runtime import ExamRuntime

    made = []

    def make(server):
        runtime = ExamRuntime(login(server.url), isolated_home / "data")
        runtime.start()
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()


def screenshot(widget, name: str) -> Path:
    """Save ``exam_<name>.png`` of ``widget`` at 1440×900.

    Into ``docs/screenshots/`` when ``ZHISHIYUN_TEST_SCREENSHOTS=1`` (refreshing the docs),
    else into a temporary folder (the grab is still exercised).
    """
    import os
    import tempfile

    from zhishiyun.ui.qt import QApplication

    folder = SHOTS if os.environ.get("ZHISHIYUN_TEST_SCREENSHOTS") == "1" else \
        Path(tempfile.gettempdir()) / "zhishiyun-exam-shots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"exam_{name}.png"
    # The offscreen "screen" is 800×800: shoot at a laptop size without the resize counting
    # as leaving full screen, then go back to full screen.
    seen, widget._full_screen_seen = widget._full_screen_seen, False
    widget.showNormal()
    for _attempt in range(50):  # the platform may apply the normal geometry a bit later
        widget.resize(1440, 900)
        QApplication.processEvents()
        if (widget.width(), widget.height()) == (1440, 900):
            break
        time.sleep(0.02)
    assert widget.grab().save(str(path))
    widget.showFullScreen()
    QApplication.processEvents()
    widget._full_screen_seen = seen
    return path


SUPPORT = {"support_phone": "400-800-1234", "support_qq": "800012345",
           "support_email": "support@zhishiyun.example", "support_hours": "每天 8:00–22:00"}
