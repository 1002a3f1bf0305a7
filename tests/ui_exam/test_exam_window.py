"""The exam window through a written exam and an interview, against the real server."""

from __future__ import annotations

import shutil

from tests.exam.conftest import server_rows, shape
from tests.exam.helpers import assert_all_segments_on_server
from tests.ui_exam.conftest import SUPPORT, screenshot
from zhishiyun.exam.session import State
from zhishiyun.ui.qt import QApplication, QEvent, QGuiApplication, QMessageBox, Qt


def make_window(session, qtbot, asked, cameras=()):
    from zhishiyun.ui.exam.window import ExamWindow

    window = ExamWindow(session, support=SUPPORT, candidate_name="张三",
                        list_devices=lambda: ([("视频文件摄像头", session.camera), *cameras],
                                              [("系统默认", None)]))
    window.ask = lambda _parent, title, text: asked.append((title, text)) or True
    qtbot.addWidget(window)
    window.resize(1440, 900)
    return window


def test_written_exam_in_the_window(server_factory, devices, qtbot, monkeypatch, tmp_path):
    """Entered the way the home page does it: the desk with the app's services."""
    from zhishiyun.config import load_settings
    from zhishiyun.device_choice import save_choice
    from zhishiyun.ui import exam_entry
    from zhishiyun.ui.app import build_services
    from zhishiyun.ui.exam import window as window_module
    from zhishiyun.ui.qt import QWidget

    server = server_factory()
    exam_id = shape(server, "written", start_in=12, duration_s=600)
    services = build_services(load_settings({
        "server_url": server.url, "camera": devices["camera"],
        "microphone": devices["microphone"] or ""}))
    services.client.login_password("110101199003070011", "zsy-demo-1")
    tested = tmp_path / "tested-camera.avi"  # the camera that passed the device test
    shutil.copy(devices["camera"], tested)
    save_choice(services.settings.data_path, str(tested), devices["microphone"],
                chosen_in="device_test")
    services.client.accept(exam_id)
    exam = next(e for e in services.client.exams() if e.id == exam_id)
    asked: list = []
    monkeypatch.setattr(window_module, "ask_question",
                        lambda _parent, title, text: asked.append((title, text)) or True)
    main = QWidget()
    main.candidate = {"name": "张三"}
    qtbot.addWidget(main)
    main.show()
    desk = exam_entry.ExamDesk(main, services)
    try:
        desk.enter(exam)
        qtbot.waitUntil(lambda: exam_id in desk.windows, timeout=15000)
        window = desk.windows[exam_id]
        session = window.session
        assert session.clock is services.runtime.clock  # the app's one server clock
        assert session.camera == str(tested), "the exam records the devices chosen"
        _written_exam(window, session, services.runtime, server, qtbot, asked)
        assert main.isVisible()  # back home after leaving
    finally:
        desk.close()
        services.runtime.close()


def _written_exam(window, session, runtime, server, qtbot, asked):
    assert not window.parent() and window.isFullScreen()
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.written, timeout=15000)
    qtbot.waitUntil(window.written.preview.has_frame, timeout=10000)
    assert window.written.camera_box.currentText() == "tested-camera.avi"  # shown by name
    screenshot(window, "0_written_confirmation")
    window.written.tick.setChecked(True)  # 考前确认, then the recording starts
    window.written.confirm_button.click()
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.waiting, timeout=15000)
    assert window.rec.isVisible() and session.recorder.running
    qtbot.waitUntil(lambda: window.preview.has_frame(), timeout=10000)
    qtbot.waitUntil(lambda: window.waiting.countdown.text() != "--:--:--", timeout=3000)
    screenshot(window, "1_waiting")

    # at zero the papers appear by themselves
    qtbot.waitUntil(lambda: window.papers_loaded, timeout=20000)
    assert window.stack.currentWidget() is window.exam_page
    assert window.paper_view.count() == 3
    assert sorted(window.answers.fields) == ["1", "2", "3", "4"]  # from the PDF and the text
    qtbot.keyClicks(window.answers.fields["1"], "OK ")  # typing (QTest cannot type CJK)
    # what an input method commits
    window.answers.fields["1"].insertPlainText("片段录制在崩溃后也能读到最后一帧。")
    window.paper_view.zoom_in.click()
    assert window.paper_view.zoom > 1.0
    qtbot.waitUntil(lambda: session.answers().get("1", "").endswith("最后一帧。"), timeout=3000)
    screenshot(window, "2_papers_answers")
    window.paper_view.tabs.button(1).click()  # the image paper
    assert window.paper_view.stack.currentWidget() is window.paper_view.pages_scroll

    # the exam's own modal dialog taking the focus is not a focus loss
    own = QMessageBox(window)
    own.setWindowModality(Qt.WindowModality.ApplicationModal)
    own.show()
    QApplication.sendEvent(window, QEvent(QEvent.Type.WindowDeactivate))
    assert "focus" not in window.banners.texts()
    own.close()
    QApplication.processEvents()

    # focus lost and a second monitor: warnings and events
    QApplication.sendEvent(window, QEvent(QEvent.Type.WindowDeactivate))
    QGuiApplication.instance().screenAdded.emit(QGuiApplication.primaryScreen())
    assert {"focus", "display"} <= set(window.banners.texts())
    screenshot(window, "3_warnings")
    QApplication.sendEvent(window, QEvent(QEvent.Type.WindowActivate))
    window.show_help()
    assert "400-800-1234" in window.help_box.text()
    window.help_box.close()

    # 交卷: the unanswered questions are listed before the confirmation
    window.submit_button.click()
    assert asked and "第 2、3、4 题" in asked[-1][1]  # zh_CN: the unanswered, by number
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.finishing, timeout=10000)
    screenshot(window, "4_finishing")
    qtbot.waitUntil(lambda: session.state == State.DONE, timeout=40000)
    qtbot.waitUntil(lambda: window.finishing.done, timeout=3000)
    screenshot(window, "5_uploaded")
    with qtbot.waitSignal(window.left, timeout=3000) as left:
        window.finishing.leave_button.click()
    assert left.args == ["done"]

    assert session.finish_reason == "candidate_ended"
    stored = {a.question_id: a.content for a in runtime.client.answers(session.session_id)}
    assert stored == {"1": "OK 片段录制在崩溃后也能读到最后一帧。"}
    kinds = [e.kind for e in server_rows(server, "Event", session.session_id)]
    assert {"focus_lost", "display_added", "exam_finished"} <= set(kinds)
    assert_all_segments_on_server(runtime.client, session)


def test_interview_device_confirmation_waiting_and_time_up(server_factory, runtime_for,
                                                           devices, qtbot, tmp_path):
    server = server_factory()
    exam_id = shape(server, "interview", start_in=6, duration_s=6)
    runtime = runtime_for(server)
    runtime.client.draw_lot(exam_id)
    runtime.client.accept(exam_id)
    session = runtime.session({"id": exam_id, "name": "2026 年研究生复试面试（演示）",
                               "kind": "interview"}, **devices)
    asked: list = []
    other = tmp_path / "second-camera.avi"
    shutil.copy(devices["camera"], other)
    window = make_window(session, qtbot, asked, cameras=[("第二个摄像头", str(other))])
    window.start()
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.confirm, timeout=15000)
    qtbot.waitUntil(lambda: window.confirm.camera_box.count() == 2, timeout=10000)
    qtbot.waitUntil(lambda: window.confirm.preview.has_frame(), timeout=10000)
    first = session.recorder
    window.confirm.camera_box.setCurrentIndex(1)  # the candidate picks the other camera
    qtbot.waitUntil(lambda: session.recorder not in (None, first) and session.recorder.running,
                    timeout=15000)
    assert session.camera == str(other) and not first.running
    qtbot.waitUntil(lambda: window.confirm.preview.has_frame(), timeout=10000)
    if devices["microphone"] is None:  # PulseAudio's 440 Hz vmic is the default input
        qtbot.waitUntil(lambda: window.confirm.level.value() > 0, timeout=5000)
    assert not window.submit_button.isVisible()  # interviews have no answer boxes
    screenshot(window, "0_device_confirm")
    window.confirm.confirm_button.click()
    assert session.state in (State.WAITING, State.IN_PROGRESS)

    # the leaving-full-screen warning (offscreen windows report their state changes)
    window.showNormal()
    qtbot.waitUntil(lambda: "fullscreen" in window.banners.texts(), timeout=3000)
    window.showFullScreen()
    qtbot.waitUntil(lambda: "fullscreen" not in window.banners.texts(), timeout=3000)

    qtbot.waitUntil(lambda: window.papers_loaded, timeout=20000)
    assert window.paper_view.text_view.toPlainText().startswith("请用三分钟")
    # the duration runs out on the server's clock: the exam ends by itself
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.finishing, timeout=20000)
    assert session.finish_reason == "time_up"
    assert window.finishing.title.text() != ""
    qtbot.waitUntil(lambda: session.state == State.DONE, timeout=40000)
    kinds = [e.kind for e in server_rows(server, "Event", session.session_id)]
    assert {"devices_changed", "devices_confirmed", "fullscreen_left",
            "exam_finished"} <= set(kinds)
    assert_all_segments_on_server(runtime.client, session)
    assert not asked  # nothing asked the candidate: the time ended the exam
