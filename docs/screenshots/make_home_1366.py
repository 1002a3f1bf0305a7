"""Take the home-side journey screenshots at 1366×768 (zh_CN, real demo server and devices).

绑定手机 from the exam card, the spoken instruction playing when the written exam starts,
and 考试录像 afterwards with a part played. Run on a 1366×768 X server with CJK fonts,
against a demo server whose written exam starts soon and whose interview's entry is open,
with an instruction::

    Xvfb :98 -screen 0 1366x768x24 &  export DISPLAY=:98
    source scripts/services.sh && start_audio
    ZHISHIYUN_DEMO_WRITTEN_START_DELAY_S=90 ZHISHIYUN_DEMO_INTERVIEW_DELAY_S=0 \
        zhishiyun-server --demo --data /tmp/demo --port 8766 &
    zhishiyun-server admin --data /tmp/demo set-instruction --exam 1 指导语.ogg
    ffmpeg -f lavfi -i testsrc=size=640x480:rate=15 -t 30 -pix_fmt yuv420p /tmp/cam.mp4
    ZHISHIYUN_CAMERA=/tmp/cam.mp4 python docs/screenshots/make_home_1366.py \
        --server http://127.0.0.1:8766

Each screen is driven through its real widgets; the yes/no questions are answered "yes".
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from zhishiyun import i18n  # noqa: E402
from zhishiyun.config import load_settings  # noqa: E402

ID, PASSWORD = "110101199003070011", "zsy-demo-1"


def main() -> int:  # noqa: PLR0915 - one walk, step by step
    """Walk the home-side screens and save PNGs next to this script."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--out", default=str(HERE))
    args = parser.parse_args()
    if not os.environ.get("DISPLAY"):
        print("needs an X display of 1366×768")
        return 2
    i18n.set_language("zh_CN")
    from zhishiyun.ui import exam_entry
    from zhishiyun.ui.app import build_services, create_application
    from zhishiyun.ui.exam import window as window_module
    from zhishiyun.ui.exam.instruction import InstructionWidget
    from zhishiyun.ui.main_window import MainWindow
    from zhishiyun.ui.qt import QMessageBox
    from zhishiyun.ui.rules_dialog import RulesDialog

    app = create_application()
    out = Path(args.out)

    def wait(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.02)

    def until(condition, timeout: float = 30.0) -> None:
        end = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > end:
                raise TimeoutError(condition)
            wait(0.1)

    def shot(name: str) -> None:
        wait(0.6)
        screen = app.primaryScreen()
        size = screen.geometry()
        path = out / f"{name}.png"
        screen.grabWindow(0, 0, 0, size.width(), size.height()).save(str(path))
        print("saved", path)

    QMessageBox.question = staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes)
    RulesDialog.exec = lambda self: (self.read_box.setChecked(True), self.accept(),
                                     self.result())[-1]
    window_module.ask_question = lambda *_args: True
    services = build_services(load_settings({"server_url": args.server}))
    window = MainWindow(services)
    window.move(0, 0)
    window.resize(1366, 740)
    window.show()
    desk = exam_entry.ExamDesk(window, services)
    desk.start()
    window.exam_enter_requested.connect(desk.enter)
    window.start()
    until(lambda: window.checks.enter_button.isEnabled(), 60)
    window._on_checks_entered()
    until(lambda: window.login is not None)
    login = window.login
    login.password_tab.click()
    login.consent.setChecked(True)
    login.id_number.setText(ID)
    login.password.setText(PASSWORD)
    login.password_button.click()
    until(lambda: window.home is not None)
    home = window.home
    until(lambda: len(home.exams.cards()) >= 3)

    def card(kind: str):
        return next(c for c in home.exams.cards() if c.exam.kind == kind)

    card("interview").lottery_requested.emit(card("interview").exam)
    until(lambda: card("interview").exam.lottery_number is not None)
    card("interview").accept_requested.emit(card("interview").exam)
    until(lambda: card("interview").exam.accepted)
    card("written").accept_requested.emit(card("written").exam)
    until(lambda: card("written").exam.accepted)
    until(lambda: card("interview").bind_button.isEnabled())
    card("interview").bind_button.click()
    dialog = home.exams.bind_dialog
    until(lambda: dialog.panel.bind_code is not None)
    dialog.move(window.x() + 360, window.y() + 60)
    shot("journey_1366_16_bind_phone_from_card")
    dialog.close()

    card("written").enter_button.click()
    exam_id = card("written").exam.id
    until(lambda: exam_id in desk.windows)
    exam_window = desk.windows[exam_id]
    session = exam_window.session
    until(lambda: session.state.value in ("confirm", "waiting", "in_progress"), 60)
    if session.state.value == "confirm":  # 考前确认: tick, then 确认并开始录制
        until(lambda: exam_window.stack.currentWidget() is exam_window.written)
        exam_window.written.tick.setChecked(True)
        exam_window.written.confirm_button.click()
    until(lambda: any(isinstance(p, InstructionWidget) for p in exam_window.side_panels), 60)
    until(lambda: session.state.value == "in_progress", 180)
    panel = next(p for p in exam_window.side_panels if isinstance(p, InstructionWidget))
    until(lambda: panel.player is not None)
    wait(1.0)
    shot("journey_1366_17_spoken_instruction")
    wait(35)  # a first 30 s part closes and uploads
    exam_window.home_button.click()
    until(lambda: window.isVisible())
    home.show_page("recordings")
    until(lambda: bool(home.recordings.cards))
    written_card = next(c for c in home.recordings.cards if c.entry.session_id ==
                        session.session_id)
    written_card.select("screen", 0)
    shot("journey_1366_18_recordings")
    written_card.play_button.click()
    until(lambda: home.recordings.playback is not None
          and home.recordings.playback.progress.value() > 300, 30)
    home.recordings.playback.move(window.x() + 330, window.y() + 90)
    shot("journey_1366_19_recording_playback")
    home.recordings.deactivate()
    desk.close()
    services.runtime.close()
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
