"""阅读须知 says when the recording runs: a written exam from 考前确认, an interview from entry."""

from __future__ import annotations

from zhishiyun import i18n
from zhishiyun.ui.qt import QLabel
from zhishiyun.ui.rules_dialog import RulesDialog

from .conftest import logged_in_client


def test_the_rules_say_when_each_exam_records(qtbot, demo_server):
    exams = {exam.kind: exam for exam in logged_in_client(demo_server.url).exams()}
    i18n.set_language("zh_CN")  # the ui_app fixture puts English back afterwards
    texts = {}
    for kind in ("written", "interview"):
        dialog = RulesDialog(exams[kind])
        qtbot.addWidget(dialog)
        texts[kind] = " ".join(label.text() for label in dialog.findChildren(QLabel))
    assert "从考前确认到考试结束，系统将录制并上传屏幕、摄像头和麦克风。" in texts["written"]
    assert "从进入考试" not in texts["written"]
    assert "从进入考试到考试结束，系统将录制并上传屏幕、摄像头和麦克风。" in texts["interview"]
