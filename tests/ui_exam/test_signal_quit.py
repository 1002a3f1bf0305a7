"""SIGTERM/Ctrl+C mid-exam end the app without a question or a hang (nothing is lost)."""

from __future__ import annotations

import signal
from types import SimpleNamespace

from zhishiyun.api.client import ServerClient
from zhishiyun.api.tokens import MemoryTokenStore
from zhishiyun.exam.runtime import ExamRuntime
from zhishiyun.ui import app as ui_app
from zhishiyun.ui import exam_entry
from zhishiyun.ui.qt import QApplication, QMessageBox, QWidget


class RefusingWindow(QWidget):
    """Stands in for the exam window, which refuses to close during the exam."""

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        event.ignore()


def test_sigterm_during_an_exam_closes_recordings_and_asks_nothing(isolated_home, qtbot,
                                                                    monkeypatch):
    url = "http://127.0.0.1:9"
    runtime = ExamRuntime(ServerClient(url, token_store=MemoryTokenStore(url)),
                          isolated_home / "data")
    runtime.queue.enqueue_json("events", "s1", url + "/api/v1/sessions/s1/events",
                               {"events": []})  # an upload is pending
    services = SimpleNamespace(runtime=runtime)
    main, exam = QWidget(), RefusingWindow()
    qtbot.addWidget(main)
    qtbot.addWidget(exam)
    exam_entry.ExamDesk(main, services).install_quit_guard()
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a))
    exits = []
    monkeypatch.setattr(QApplication.instance(), "exit", lambda code=0: exits.append(code))
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        main.show()
        exam.show()
        ui_app._quit_on_signals(QApplication.instance(), main, services)
        signal.raise_signal(signal.SIGTERM)
        qtbot.waitUntil(lambda: exits == [0], timeout=5000)
        assert asked == []  # no dialog may block a shutdown
        assert runtime.worker._stop.is_set()  # the runtime was closed
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
        exam.destroy()
