"""Handing in is unmistakable: one 交卷, a receipt code the server also shows, plain words.

A written exam in the real exam window (real recorder, real server), in English.
"""

from __future__ import annotations

from tests.exam.conftest import server_rows, shape
from zhishiyun.exam.session import State
from zhishiyun_formats.receipt import answers_receipt

from .test_layout_exam import exam_window, runtime_for  # noqa: F401 - fixture


def test_written_exam_hands_in_once_with_a_receipt_the_server_confirms(
        server_factory, runtime_for, devices, qtbot):  # noqa: F811 - fixture
    server = server_factory()
    exam_id = shape(server, "written", start_in=15, duration_s=600)
    runtime = runtime_for(server)
    runtime.client.accept(exam_id)
    session = runtime.session({"id": exam_id, "name": "笔试", "kind": "written"}, **devices)
    window = exam_window(session, qtbot)
    asked = []
    window.ask = lambda _parent, title, text: asked.append((title, text)) or True
    window.start()
    # 考前确认 before recording: who and which exam, the camera's picture, the devices, rules
    checklist = window.written
    qtbot.waitUntil(lambda: window.stack.currentWidget() is checklist, timeout=30000)
    # nothing to hand in or end before the start
    assert not window.submit_button.isVisible() and not window.end_button.isVisible()
    assert checklist.isVisible() and "张三" in checklist.identity.text()
    assert "笔试" in checklist.identity.text()
    qtbot.waitUntil(lambda: "视频文件摄像头" in checklist.devices.text(), timeout=10000)
    assert "Submit answers" in checklist.rules.text()
    qtbot.waitUntil(checklist.preview.has_frame, timeout=10000)
    checklist.tick.setChecked(True)
    checklist.confirm_button.click()
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.waiting, timeout=30000)
    assert not window.submit_button.isVisible() and not window.end_button.isVisible()
    qtbot.waitUntil(lambda: window.papers_loaded, timeout=30000)
    assert window.submit_button.isVisible() and window.submit_button.isEnabled()
    assert not window.end_button.isVisible(), "a written exam has one way to hand in"
    window.answers.fields["1"].insertPlainText("第一题的答案。")
    window.answers.fields["2"].insertPlainText("Answer two")
    window.submit_button.click()
    title, text = asked[-1]
    assert title == "Submit answers" and "answers will be submitted" in text
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.finishing, timeout=10000)
    finishing = window.finishing
    code = answers_receipt({"1": "第一题的答案。", "2": "Answer two"})
    assert finishing.title.text() == "Answers submitted"
    assert "Submitted at" in finishing.receipt.text() and code in finishing.receipt.text()
    assert not window.home_button.isVisible(), "one Back to home: the finishing page's own"
    assert finishing.leave_button.isVisible()

    qtbot.waitUntil(lambda: session.state == State.DONE, timeout=40000)
    qtbot.waitUntil(lambda: "exactly these answers" in finishing.receipt.text(), timeout=15000)
    # the server's own code of what it holds is the same
    reply = runtime.client.finish(session.session_id, "candidate_ended")
    assert reply.answers_receipt == code
    kinds = [e.kind for e in server_rows(server, "Event", session.session_id)]
    assert "written_checklist_confirmed" in kinds
    lines = [finishing.items.item(i).text() for i in range(finishing.items.count())]
    assert lines and all(line.startswith(("Screen recording part ", "Camera recording part "))
                         for line in lines), lines
    assert any(line.startswith("Screen recording part 1 ") for line in lines)
    assert not any("/0000" in line for line in lines)
    window._leave("done")
