"""The exam window at laptop sizes: a written exam and an interview with the phone panel.

Real server, real recorder (screen, stand-in camera file, vmic); the window is sized to
each screen × scaling (see :mod:`tests.ui.layout`) and its key widgets must show whole.
"""

from __future__ import annotations

import os

import pytest

from tests.exam.conftest import login, server_db, shape
from zhishiyun.exam.session import State

from .layout import SIZES, assert_layout, problems_showing, resize_window

SHOTS = os.environ.get("ZHISHIYUN_TEST_LAYOUT_SHOTS", "")

SUPPORT = {"support_phone": "400-800-1234"}


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


def exam_window(session, qtbot):
    from zhishiyun.ui.exam.window import ExamWindow

    window = ExamWindow(session, support=SUPPORT, candidate_name="张三",
                        list_devices=lambda: ([("视频文件摄像头", session.camera)],
                                              [("系统默认", None)]))
    window.ask = lambda *_args: True
    qtbot.addWidget(window)
    return window


def bottom_and_side(window) -> dict:
    return {"countdown": window.countdown, "preview": window.preview,
            "help": window.help_button, "home": window.home_button,
            "support": window.support_line, "title": window.title}


def each_size(window, widgets, together=()) -> None:
    """Lay out at every size; the ``together`` widgets must show at once, unscrolled."""
    for name, width, height in SIZES:
        resize_window(window, width, height)
        assert_layout(widgets(), name)
        if together:
            problems_showing(together[0], "first")
            for widget in together[1:]:
                region = widget.visibleRegion()
                assert region.contains(widget.rect()), (
                    f"at {name}: {widget.objectName()} is not in view with "
                    f"{together[0].objectName()}")
        if SHOTS:
            window.grab().save(f"{SHOTS}/{window.stack.currentIndex()}_{name}.png")


def test_written_exam_and_finishing_fit_laptop_screens(server_factory, runtime_for, devices,
                                                       qtbot):
    server = server_factory()
    exam_id = shape(server, "written", start_in=2, duration_s=600)
    runtime = runtime_for(server)
    runtime.client.accept(exam_id)
    session = runtime.session({"id": exam_id, "name": "2026 年度专业技术人员笔试（演示）",
                               "kind": "written"}, **devices)
    window = exam_window(session, qtbot)
    window.start()
    written = window.written  # 考前确认, before the recording
    qtbot.waitUntil(lambda: window.stack.currentWidget() is written, timeout=30000)
    each_size(window, lambda: {**bottom_and_side(window), "identity": written.identity,
                               "camera": written.camera_box, "microphone": written.mic_box,
                               "tick": written.tick, "confirm": written.confirm_button})
    written.tick.setChecked(True)
    written.confirm_button.click()
    qtbot.waitUntil(lambda: window.papers_loaded, timeout=30000)
    first = window.answers.fields[sorted(window.answers.fields)[0]]

    def exam():
        return {**bottom_and_side(window), "submit": window.submit_button,
                "refresh": window.paper_view.refresh_button,
                "firstAnswer": first, "tab": window.paper_view.tabs.button(0),
                "paper": window.paper_view.stack}

    each_size(window, exam)
    window.submit_button.click()
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.finishing, timeout=10000)
    finishing = window.finishing
    each_size(window, lambda: {"title": finishing.title, "summary": finishing.summary,
                               "total": finishing.total, "list": finishing.items,
                               "leave": finishing.leave_button})
    qtbot.waitUntil(lambda: session.state == State.DONE, timeout=40000)
    window._leave("done")


def test_interview_with_the_phone_panel_fits_laptop_screens(server_factory, runtime_for,
                                                            devices, qtbot):
    from sqlalchemy import select

    from zhishiyun.ui.second_camera_widget import attach_to_exam_window
    from zhishiyun_server.models import Exam

    server = server_factory()
    exam_id = shape(server, "interview", start_in=600, duration_s=600)
    with server_db(server)() as db:
        db.scalar(select(Exam).where(Exam.id == exam_id)).requires_second_camera = True
        db.commit()
    runtime = runtime_for(server)
    runtime.client.draw_lot(exam_id)
    runtime.client.accept(exam_id)
    session = runtime.session({"id": exam_id, "name": "2026 年研究生复试面试（演示）",
                               "kind": "interview"}, **devices)
    window = exam_window(session, qtbot)
    attach_to_exam_window(window)
    window.start()
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.confirm,
                    timeout=30000)
    qtbot.waitUntil(lambda: bool(window.side_panels)
                    and window.side_panels[0].bind_code is not None, timeout=20000)
    panel = window.side_panels[0]
    confirm = window.confirm

    def with_panel(**more):
        return {**bottom_and_side(window), "qr": panel.qr,
                "code": panel.code, "how": panel.how, "phoneState": panel.state_tag,
                "newCode": panel.new_code, **more}

    assert not window.end_button.isVisible(), "no 结束考试 before the start"
    try:
        each_size(window, lambda: with_panel(camera=confirm.camera_box, mic=confirm.mic_box,
                                             confirmPreview=confirm.preview,
                                             confirm=confirm.confirm_button),
                  together=(panel.qr, panel.code))
        confirm.confirm_button.click()
        qtbot.waitUntil(lambda: window.stack.currentWidget() is window.waiting, timeout=10000)
        each_size(window, lambda: with_panel(countdown2=window.waiting.countdown),
                  together=(panel.qr, panel.code))
        assert not window.end_button.isVisible()
    finally:
        panel.stop()
        window._leave("home")

