"""During the exam: organiser messages as banners, 求助 with the staff's reply, the marked
paper tab and what 刷新试卷 did. The real exam window against the real server."""

from __future__ import annotations

from sqlalchemy import select

from tests.exam.conftest import server_db, shape

from .test_layout_exam import exam_window, runtime_for  # noqa: F401 - fixture


def test_messages_help_replies_tabs_and_refresh_in_the_exam_window(
        server_factory, runtime_for, devices, qtbot):  # noqa: F811 - fixture
    from zhishiyun.ui.exam import live
    from zhishiyun_server.help import service as help_service
    from zhishiyun_server.models import Candidate, Message

    server = server_factory()
    exam_id = shape(server, "written", start_in=2, duration_s=600)
    runtime = runtime_for(server)
    runtime.client.accept(exam_id)
    session = runtime.session({"id": exam_id, "name": "笔试", "kind": "written"}, **devices)
    window = exam_window(session, qtbot)
    window.live.timer.setInterval(500)  # poll quickly in the test (15 s in the app)
    window.start()
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.written, timeout=30000)
    window.written.tick.setChecked(True)  # 考前确认, then the recording starts
    window.written.confirm_button.click()
    qtbot.waitUntil(lambda: window.papers_loaded, timeout=30000)
    qtbot.wait(1200)
    assert not [k for k in window.banners.texts() if k.startswith("message_")], \
        "messages from before the entry are not news"

    factory = server_db(server)
    with factory() as db:
        zhang = db.scalar(select(Candidate).where(Candidate.name == "张三"))
        db.add(Message(candidate_id=zhang.id, title="考场通知", body="请保持摄像头对准面部。"))
        db.commit()
    qtbot.waitUntil(lambda: any("考场通知" in text and "请保持摄像头对准面部" in text
                                for key, text in window.banners.texts().items()
                                if key.startswith("message_")), timeout=10000)

    window.show_help()
    dialog = window.help_box
    assert isinstance(dialog, live.HelpDialog) and "400-800-1234" in dialog.text()
    dialog.text_box.setPlainText("摄像头画面卡住了")
    dialog.send_button.click()
    qtbot.waitUntil(lambda: "Sent" in dialog.state.text(), timeout=10000)
    assert "摄像头画面卡住了" in dialog.history.toPlainText()
    with factory() as db:
        (request,) = help_service.requests_of(db, session.session_id)
        assert request.text == "摄像头画面卡住了"
        help_service.reply(db, request.id, "请检查摄像头连接", "王老师")
        db.commit()
    qtbot.waitUntil(lambda: "请检查摄像头连接" in window.banners.texts().get("help_reply", ""),
                    timeout=10000)
    qtbot.waitUntil(lambda: "请检查摄像头连接" in dialog.history.toPlainText(), timeout=5000)
    assert "王老师" not in dialog.history.toPlainText()
    dialog.close()

    # the current paper's tab is marked (drawn in the accent colour)
    tabs = window.paper_view.tabs
    tabs.button(1).click()
    qtbot.wait(100)

    def colour(tab):
        image = tab.grab().toImage()
        return image.pixelColor(image.width() // 2, 3).name()

    assert colour(tabs.button(1)) != colour(tabs.button(0))
    assert tabs.button(1).isChecked() and not tabs.button(0).isChecked()
    # 刷新试卷 says what it did and stays on the paper
    window.paper_view.refresh_button.click()
    note = window.paper_view.refresh_note
    qtbot.waitUntil(lambda: note.isVisible() and "nothing changed" in note.text(),
                    timeout=15000)
    assert "3 papers" in note.text()
    assert window.paper_view.current == 1 and tabs.button(1).isChecked()
    assert window.answers.fields["3"].accessibleName() == "Question 3"
    window._leave("home")
