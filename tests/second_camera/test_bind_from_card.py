"""绑定手机 from the exam card before entering; the exam window's panel then shows it bound.

The exam also has a spoken instruction, so the exam desk mounts two side panels.

pytest-qt offscreen, the real server, the phone's side through its HTTP API; entered the
way the home page does it (the exam desk).
"""

from __future__ import annotations

import pytest
import requests

pytest.importorskip("PySide6.QtWidgets", reason="the GUI needs PySide6")

from tests.conftest import styled_app  # noqa: E402
from tests.second_camera.conftest import phone_exam_and_services  # noqa: E402
from tests.ui.layout import SIZES, assert_layout, resize_window  # noqa: E402

pytestmark = [pytest.mark.ui, pytest.mark.integration]


@pytest.fixture(autouse=True)
def ui_app(qapp):
    """The app's look and the main-thread bridge, in English (assertions read texts)."""
    with styled_app(qapp, "en") as app:
        yield app


def set_instruction(server, exam_id, tmp_path) -> None:
    """``admin set-instruction`` with a real WAV file (ffmpeg)."""
    import shutil
    import subprocess
    import sys

    from tests.conftest import REPO, require

    if shutil.which("ffmpeg") is None:
        require("ffmpeg", "makes the instruction's audio file")
    audio = tmp_path / "instruction.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=duration=1", "-y",
                    str(audio)], check=True, timeout=60)
    done = subprocess.run([sys.executable, "-m", "zhishiyun_server", "admin", "--db",
                           server.db_url, "set-instruction", "--exam", str(exam_id),
                           str(audio)], capture_output=True, text=True, cwd=REPO,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr


def test_the_phone_bound_from_the_card_is_bound_in_the_exam(server_factory, devices, qtbot,
                                                            tmp_path, monkeypatch):
    from zhishiyun.ui import exam_entry
    from zhishiyun.ui.exam import window as window_module
    from zhishiyun.ui.exam.instruction import InstructionWidget
    from zhishiyun.ui.exams_page import ExamsWidget
    from zhishiyun.ui.qt import QWidget
    from zhishiyun.ui.second_camera_widget import PhoneBindDialog, SecondCameraWidget

    server = server_factory()  # the phone counts as lost after 15 s without a heartbeat
    exam_id, services = phone_exam_and_services(server, devices)
    services.ping()
    page = ExamsWidget(services.client, services.server_now, tmp_path / "attachments")
    qtbot.addWidget(page)
    page.show()
    page.refresh()
    qtbot.waitUntil(lambda: page.card(exam_id) is not None, timeout=15_000)
    card = page.card(exam_id)
    assert card.bind_button.isVisible() and not card.bind_button.isEnabled(), \
        "not before the rules are accepted"
    services.client.accept(exam_id)
    page.refresh()
    qtbot.waitUntil(lambda: page.card(exam_id).bind_button.isEnabled(), timeout=15_000)

    page.card(exam_id).bind_button.click()
    dialog = page.bind_dialog
    assert isinstance(dialog, PhoneBindDialog) and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.panel.bind_code is not None, timeout=15_000)
    assert dialog.panel.code.text() and dialog.panel.qr.pixmap() is not None
    for size, width, height in SIZES:  # every laptop screen × scaling, title bar left over
        resize_window(dialog, min(480, width - 40), height - 60)
        assert_layout({"qr": dialog.panel.qr, "code": dialog.panel.code,
                       "newCode": dialog.panel.new_code, "close": dialog.close_button}, size)
    reply = requests.post(f"{server.url}/api/v1/phone/redeem", timeout=10,
                          json={"code": dialog.panel.code.text()})  # the phone scans it
    assert reply.status_code == 200, reply.text
    headers = {"Authorization": f"Bearer {reply.json()['credential']}"}
    beat = requests.post(f"{server.url}/api/v1/phone/heartbeat", headers=headers,
                         json={"state": "ready"}, timeout=10)
    assert beat.json()["session_id"] is None, "the phone waits for the entry"
    qtbot.waitUntil(lambda: dialog.panel.state_tag.text() == "Phone bound", timeout=15_000)
    assert not dialog.panel.qr.isVisible(), "no code once the phone holds the binding"
    dialog.close()

    set_instruction(server, exam_id, tmp_path)  # a second side panel: both must show
    monkeypatch.setattr(window_module, "ask_question", lambda *_args: True)
    main = QWidget()
    qtbot.addWidget(main)
    desk = exam_entry.ExamDesk(main, services)
    try:
        desk.enter(next(e for e in services.client.exams() if e.id == exam_id))
        qtbot.waitUntil(lambda: exam_id in desk.windows, timeout=15_000)
        window = desk.windows[exam_id]

        def panel():
            return next((p for p in window.side_panels
                         if isinstance(p, SecondCameraWidget)), None)

        qtbot.waitUntil(lambda: panel() is not None, timeout=20_000)
        qtbot.waitUntil(lambda: panel().status.state == "bound", timeout=20_000)
        assert panel().state_tag.text() == "Phone bound"
        assert panel().monitor.session_id == window.session.session_id
        qtbot.waitUntil(lambda: any(isinstance(p, InstructionWidget)
                                    for p in window.side_panels), timeout=20_000)
        beat = requests.post(f"{server.url}/api/v1/phone/heartbeat", headers=headers,
                             json={"state": "ready"}, timeout=10)
        assert beat.json()["session_id"] == window.session.session_id, \
            "the phone may record into the session now"
    finally:
        desk.close()
        for window in desk.windows.values():
            for side_panel in window.side_panels:
                side_panel.stop()
        services.runtime.close()
