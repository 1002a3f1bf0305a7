"""Take the GUI screenshots in docs/screenshots/ (zh_CN, real demo server, real devices).

Run under an X server with CJK fonts (Xvfb is fine), against ``zhishiyun-server --demo``::

    source scripts/services.sh && start_display && start_audio
    zhishiyun-server --demo --port 8765 &
    ffmpeg -f lavfi -i testsrc=size=640x480:rate=15 -t 30 -pix_fmt yuv420p /tmp/cam.mp4
    ZHISHIYUN_CAMERA=/tmp/cam.mp4 python docs/screenshots/make_screenshots.py \
        --server http://127.0.0.1:8765

Each screen is driven through its real widgets; nothing is mocked except the two
yes/no confirmations, which are answered "yes".
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


def main() -> int:
    """Drive every screen and save PNGs next to this script."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--language", default="zh_CN")
    parser.add_argument("--out", default=str(HERE))
    args = parser.parse_args()
    if not os.environ.get("DISPLAY"):
        print("needs an X display (source scripts/services.sh && start_display)")
        return 2
    i18n.set_language(args.language)
    from zhishiyun.ui.app import build_services, create_application
    from zhishiyun.ui.main_window import MainWindow
    from zhishiyun.ui.qt import QMessageBox, QTimer
    from zhishiyun.ui.rules_dialog import RulesDialog

    app = create_application()
    out = Path(args.out)
    prefix = "" if args.language == "zh_CN" else f"{args.language}-"

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

    def shot(name: str, widget=None) -> None:
        wait(0.4)
        target = widget or window
        if widget is None:  # the whole screen area of the window, popups included
            geometry = window.frameGeometry()
            image = app.primaryScreen().grabWindow(0, geometry.x(), geometry.y(),
                                                   geometry.width(), geometry.height())
        else:
            image = target.grab()
        path = out / f"{prefix}{name}.png"
        image.save(str(path))
        print("saved", path)

    # A machine without a camera: the blocking camera check fails and offers a retry.
    from zhishiyun.ui.checks_page import ChecksWidget

    bare = build_services(load_settings({"server_url": args.server}, environ={}))
    failed = ChecksWidget(bare.run_checks, bare.check_ids, args.server)
    failed.resize(1280, 780)
    failed.show()
    failed.start()
    until(lambda: failed.retry_all_button.isEnabled(), 60)
    shot("01-checks-camera-missing", failed)
    failed.close()

    settings = load_settings({"server_url": args.server})
    services = build_services(settings)
    window = MainWindow(services)
    window.move(0, 0)
    window.resize(1280, 800)
    window.show()
    window.start()
    until(lambda: window.checks.retry_all_button.isEnabled(), 60)
    shot("02-checks-passed")

    window._on_checks_entered()
    until(lambda: window.login is not None)
    wait(1.5)
    shot("03-login-face")
    login = window.login
    login.password_tab.click()
    login.consent.setChecked(True)
    login.id_number.setText(ID)
    login.password.setText("wrong-password")
    login.password_button.click()
    until(lambda: login.password_error.isVisible())
    shot("04-login-password-error")
    login.password.setText(PASSWORD)
    login.password_button.click()
    until(lambda: window.home is not None)
    home = window.home
    until(lambda: len(home.exams.cards()) >= 3)
    wait(1)
    shot("05-my-exams")

    written = next(c for c in home.exams.cards() if c.exam.kind == "written"
                   and c.exam.state == "open")
    dialog = RulesDialog(written.exam, window)
    dialog.read_box.setChecked(True)
    dialog.show()
    shot("06-rules-dialog", dialog)
    dialog.accept()
    QMessageBox.question = staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes)
    RulesDialog.exec = lambda self: (self.read_box.setChecked(True), self.accept(),
                                     self.result())[-1]
    written.accept_requested.emit(written.exam)  # the real dialog, ticked and accepted
    interview = next(c for c in home.exams.cards() if c.exam.kind == "interview")
    interview.lottery_requested.emit(interview.exam)
    until(lambda: any(c.exam.kind == "interview" and c.exam.lottery_number is not None
                      for c in home.exams.cards()))
    interview = next(c for c in home.exams.cards() if c.exam.kind == "interview")
    interview.accept_requested.emit(interview.exam)
    until(lambda: all(c.exam.accepted for c in home.exams.cards()))
    wait(1)
    shot("07-my-exams-lot-accepted")

    home.show_page("devices")
    until(lambda: home.devices.camera_box.count() > 0)
    wait(3)
    shot("08-device-test-live")
    home.devices.start_button.click()
    wait(4)
    shot("09-device-test-recording")
    until(lambda: home.devices.play_button.isEnabled(), 40)
    home.devices.play_button.click()
    wait(2.5)
    shot("10-device-test-playback")

    home.show_page("messages")
    until(lambda: home.messages.list.count() > 0)
    home.messages.list.setCurrentRow(0)
    wait(1)
    shot("11-messages")
    home.show_page("profile")
    until(lambda: bool(home.profile.name.text()))
    shot("12-profile")
    home.show_page("support")
    shot("13-support")
    home.show_page("exams")
    QTimer.singleShot(600, lambda: (shot("14-name-menu"), home.name_button.menu().close()))
    home.name_button.showMenu()
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
