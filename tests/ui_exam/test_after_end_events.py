"""Events written after the end are told on the finishing page, not only logged."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.exam.conftest import shape
from tests.ui_exam.conftest import SUPPORT
from zhishiyun.exam.session import State


def test_the_finishing_page_says_how_many_events_came_after_the_end(server_factory,
                                                                    runtime_for, devices,
                                                                    qtbot):
    from zhishiyun.ui.exam.window import ExamWindow

    server = server_factory()
    exam_id = shape(server, "written", start_in=0, duration_s=600)
    runtime = runtime_for(server)
    runtime.client.accept(exam_id)
    session = runtime.session({"id": exam_id, "name": "笔试", "kind": "written"}, **devices)
    window = ExamWindow(session, support=SUPPORT, candidate_name="张三",
                        list_devices=lambda: ([("视频文件摄像头", session.camera)],
                                              [("系统默认", None)]))
    window.ask = lambda *_args: True
    qtbot.addWidget(window)
    window.start()
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.written, timeout=40000)
    # confirming after the start: the side column counts the exam's time down, not 00:00:00
    qtbot.waitUntil(lambda: window.phase.text() == "剩余时间", timeout=3000)
    assert window.countdown.text() > "00:09:00"
    window.written.tick.setChecked(True)
    window.written.confirm_button.click()
    qtbot.waitUntil(lambda: window.papers_loaded, timeout=30000)
    window.submit_button.click()
    qtbot.waitUntil(lambda: session.finish_posted, timeout=15000)
    # a device lost while the recorder stopped: written after the end, kept here
    session.record_event("device_lost", {"source": "camera"})
    session.flush_events()
    # and a batch the server refuses (409 saved_after_end): its clock says after the end
    later = (datetime.now(timezone.utc) + timedelta(minutes=5)).isoformat()
    session.uploads.post_events([{"id": "late-1", "kind": "focus_lost", "at": later},
                                 {"id": "late-2", "kind": "focus_back", "at": later}])
    runtime.worker.retry_now()
    finishing = window.finishing
    qtbot.waitUntil(lambda: "3 个事件" in finishing.after_end.text(), timeout=30000)
    assert finishing.after_end.isVisible()
    assert "考试已经结束" in finishing.after_end.text()  # why, in one line
    qtbot.waitUntil(lambda: session.state == State.DONE, timeout=60000)
    qtbot.waitUntil(lambda: finishing.done, timeout=5000)
    assert not finishing.retry_button.isVisible(), "a refusal is not an upload to retry"
    assert "拒绝" not in finishing.summary.text()
    window._leave("done")
