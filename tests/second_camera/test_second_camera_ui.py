"""The desktop's second camera panel (pytest-qt offscreen) against the real server."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import requests

pytest.importorskip("PySide6.QtWidgets", reason="the GUI needs PySide6")

from tests.conftest import styled_app  # noqa: E402
from tests.second_camera.conftest import phone_exam_and_services, server_rows  # noqa: E402

pytestmark = [pytest.mark.ui, pytest.mark.integration]
# Into docs/screenshots/ only when refreshing the docs (ZHISHIYUN_TEST_SCREENSHOTS=1).
SHOTS = (Path(__file__).resolve().parents[2] / "docs" / "screenshots"
         if os.environ.get("ZHISHIYUN_TEST_SCREENSHOTS") == "1"
         else Path(tempfile.gettempdir()) / "zhishiyun-second-camera-shots")
SHOTS.mkdir(parents=True, exist_ok=True)


@pytest.fixture(autouse=True)
def ui_app(qapp):
    """The app's look, the main-thread bridge, Simplified Chinese (the default language)."""
    with styled_app(qapp, "zh_CN") as app:
        yield app


def phone(url: str, code: str) -> dict:
    """What the phone page does first: redeem the code, then say it records."""
    reply = requests.post(f"{url}/api/v1/phone/redeem", json={"code": code}, timeout=10)
    assert reply.status_code == 200, reply.text
    headers = {"Authorization": f"Bearer {reply.json()['credential']}"}
    beat = requests.post(f"{url}/api/v1/phone/heartbeat", headers=headers, timeout=10,
                         json={"state": "recording", "hidden": True, "buffered": 2})
    assert beat.status_code == 200, beat.text
    return headers


def test_panel_shows_a_scannable_code_then_follows_the_phone(entered, qtbot):
    import cv2

    from zhishiyun.ui.second_camera_widget import SecondCameraWidget
    from zhishiyun.ui.widgets import CardWidget
    from zhishiyun_server.models import Event

    server, client, sid, _key = entered
    card = CardWidget(margins=14)
    card.setFixedWidth(300)
    panel = SecondCameraWidget(client, sid, poll_seconds=0.3, qr_size=200)
    card.body.addWidget(panel)
    qtbot.addWidget(card)
    card.show()
    panel.start()
    qtbot.waitUntil(lambda: panel.bind_code is not None, timeout=10000)
    qtbot.waitUntil(lambda: panel.monitor.status.state == "not_bound"
                    and panel.status is panel.monitor.status, timeout=10000)
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / "second_camera_qr.png"
    card.adjustSize()
    assert card.grab().save(str(shot))

    # The QR code on screen decodes to the phone page URL carrying this code.
    image = cv2.imread(str(shot))
    # Two decoders, as phone scanners differ: OpenCV's classic one misses some valid codes
    # that its ArUco-based one reads (a shot from a failed run decodes with the second).
    text = next((found for detector in (cv2.QRCodeDetector(), cv2.QRCodeDetectorAruco())
                 if (found := detector.detectAndDecode(image)[0])), "")
    assert text == panel.bind_code.url
    assert panel.code.text() == panel.bind_code.code
    older = panel.bind_code

    # A new code replaces the shown one; the old one no longer binds.
    panel.new_code.click()
    qtbot.waitUntil(lambda: panel.bind_code is not older, timeout=10000)
    stale = requests.post(f"{server.url}/api/v1/phone/redeem", json={"code": older.code},
                          timeout=10)
    assert stale.json()["error"]["code"] == "code_expired"

    phone(server.url, panel.bind_code.code)
    qtbot.waitUntil(lambda: panel.status.state == "recording", timeout=10000)
    assert panel.state_tag.text() == "手机录制中"
    assert panel.qr.isHidden() and panel.code.isHidden()
    assert "后台" in panel.detail.text() and "2" in panel.detail.text()
    qtbot.wait(50)  # let the layout settle after the code's widgets were hidden
    card.adjustSize()
    assert card.grab().save(str(SHOTS / "second_camera_recording.png"))
    panel.stop()
    kinds = [e.kind for e in server_rows(server, Event, session_id=sid)]
    assert kinds.count("second_camera_bound") == 1 and "second_camera_background" in kinds


def test_exam_card_says_a_second_camera_is_needed_before_entry(qtbot):
    from zhishiyun.ui.exams_page import ExamCardWidget

    exam = {"id": 7, "name": "面试", "kind": "interview", "state": "open",
            "entry_opens_at": "2026-11-23T08:00:00+00:00",
            "entry_closes_at": "2026-11-23T09:00:00+00:00",
            "starts_at": "2026-11-23T09:00:00+00:00", "duration_s": 1800,
            "lottery_required": False, "accepted": True, "requires_second_camera": True}
    card = ExamCardWidget(exam)
    qtbot.addWidget(card)
    assert card.findChild(QWidgetType(), "secondCameraNotice") is not None
    plain = ExamCardWidget({**exam, "requires_second_camera": False})
    qtbot.addWidget(plain)
    assert plain.findChild(QWidgetType(), "secondCameraNotice") is None


def QWidgetType():  # noqa: N802 - the class, imported late (Qt only after importorskip)
    from zhishiyun.ui.qt import QWidget

    return QWidget


def test_exam_window_shows_the_panel_when_the_exam_requires_it(server_factory, devices, qtbot,
                                                               monkeypatch):
    """Entered the way the home page does it; the panel sits under the countdown."""

    from zhishiyun.ui import exam_entry
    from zhishiyun.ui.exam import window as window_module
    from zhishiyun.ui.qt import QApplication, QWidget

    server = server_factory()
    exam_id, services = phone_exam_and_services(server, devices)
    services.client.accept(exam_id)
    exam = next(e for e in services.client.exams() if e.id == exam_id)
    monkeypatch.setattr(window_module, "ask_question", lambda *_args: True)
    main = QWidget()
    qtbot.addWidget(main)
    desk = exam_entry.ExamDesk(main, services)
    try:
        desk.enter(exam)
        qtbot.waitUntil(lambda: exam_id in desk.windows, timeout=15000)
        window = desk.windows[exam_id]
        qtbot.waitUntil(lambda: bool(window.side_panels)
                        and window.side_panels[0].bind_code is not None, timeout=20000)
        panel = window.side_panels[0]
        assert panel.monitor.session_id == window.session.session_id
        before_start = {window.waiting, getattr(window, "written", window.waiting)}
        qtbot.waitUntil(lambda: window.stack.currentWidget() in before_start,
                        timeout=15000)  # waiting, or a written exam's 考前确认
        window.showNormal()
        window.resize(1440, 900)
        QApplication.processEvents()
        assert window.grab().save(str(SHOTS / "second_camera_exam_window.png"))
    finally:
        desk.close()
        for window in desk.windows.values():
            for side_panel in window.side_panels:
                side_panel.stop()
        services.runtime.close()
