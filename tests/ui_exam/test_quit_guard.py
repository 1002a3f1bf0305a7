"""Quitting while uploads are pending asks first and explains; nothing pending: no question."""

from __future__ import annotations

from types import SimpleNamespace

from zhishiyun.api.client import ServerClient
from zhishiyun.api.tokens import MemoryTokenStore
from zhishiyun.exam.runtime import ExamRuntime
from zhishiyun.ui import exam_entry
from zhishiyun.ui.qt import QMessageBox, QWidget


def test_quitting_with_pending_uploads_asks_and_can_be_cancelled(isolated_home, qtbot,
                                                                  monkeypatch):
    url = "http://127.0.0.1:9"  # never contacted: the worker is not started
    runtime = ExamRuntime(ServerClient(url, token_store=MemoryTokenStore(url)),
                          isolated_home / "data")
    services = SimpleNamespace(runtime=runtime)
    main = QWidget()
    qtbot.addWidget(main)
    exam_entry.ExamDesk(main, services).install_quit_guard()
    questions = []

    def answer(reply):
        def question(_parent, title, text, *_args):
            questions.append(text)
            return reply
        return question

    try:
        main.show()
        monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
        main.close()  # nothing pending: closes without a question
        assert not main.isVisible() and questions == []

        runtime.queue.enqueue_json("events", "s1", url + "/api/v1/sessions/s1/events",
                                   {"events": []})
        main.show()
        monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.No))
        main.close()
        assert main.isVisible()  # the candidate chose to stay
        assert "1" in questions[-1] and "下次启动" in questions[-1]  # what happens next
        monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
        main.close()
        assert not main.isVisible()
    finally:
        runtime.close()
