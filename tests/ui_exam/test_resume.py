"""After a crash the next start offers the running exam; a network loss shows a banner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

from tests.exam.conftest import REPO_ROOT, login, server_rows, shape
from tests.exam.helpers import assert_all_segments_on_server, manifest_seqs
from tests.ui_exam.conftest import screenshot
from zhishiyun.config import load_settings
from zhishiyun.exam.runtime import ExamRuntime
from zhishiyun.exam.session import State
from zhishiyun.ui.qt import QWidget


def test_the_next_start_offers_the_interrupted_exam_and_it_resumes(
        server_factory, devices, qtbot, monkeypatch):
    from zhishiyun.ui import exam_entry
    from zhishiyun.ui.exam import window as exam_window_module

    server = server_factory()
    exam_id = shape(server, "written", start_in=0, duration_s=600)
    login(server.url).accept(exam_id)
    settings = load_settings({"server_url": server.url, "camera": devices["camera"],
                              "microphone": devices["microphone"] or ""})
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.exam.exam_child", server.url, str(exam_id),
         str(settings.data_path), devices["camera"], devices["microphone"] or "default"],
        stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT, env={**os.environ})
    try:
        line = child.stdout.readline().split()
        assert line and line[0] == "READY", line
        time.sleep(0.5)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    session_id = line[1]
    before = manifest_seqs(settings.data_path / "sessions" / session_id)

    offered = []
    monkeypatch.setattr(exam_entry, "ask_resume",
                        lambda _window, record: offered.append(record) or True)
    monkeypatch.setattr(exam_window_module, "ask_question", lambda *_args: True)
    main = QWidget()
    qtbot.addWidget(main)
    main.show()
    client = login(server.url)
    services = SimpleNamespace(client=client, settings=settings,
                               runtime=ExamRuntime(client, settings.data_path),
                               download_dir=settings.data_path / "attachments")
    desk = exam_entry.ExamDesk(main, services)
    try:
        desk.offer_resume()  # what happens after login
        qtbot.waitUntil(lambda: exam_id in desk.windows, timeout=15000)
        window = desk.windows[exam_id]
        session = window.session
        qtbot.waitUntil(lambda: window.papers_loaded, timeout=20000)
        assert offered[0].session_id == session_id == session.session_id
        assert session.resumed and not main.isVisible()
        assert window.answers.fields["1"].toPlainText() == "崩溃前的答案"

        server.stop()
        qtbot.waitUntil(lambda: "network" in window.banners.texts(), timeout=10000)
        window.answers.fields["2"].insertPlainText("断网时写的")
        screenshot(window, "6_network_lost")
        server.start()
        qtbot.waitUntil(lambda: "network" not in window.banners.texts(), timeout=15000)

        window.end_button.click()
        qtbot.waitUntil(lambda: session.state == State.DONE, timeout=60000)
        assert session.recorder.first_seq > max(before["screen"])
        kill_seq = min(max(seqs) + 1 for seqs in before.values())
        assert_all_segments_on_server(services.client, session,
                                      gaps_allowed=range(kill_seq, session.recorder.first_seq))
        answers = {a.question_id: a.content for a in services.client.answers(session_id)}
        assert answers == {"1": "崩溃前的答案", "2": "断网时写的"}
        kinds = [e.kind for e in server_rows(server, "Event", session_id)]
        assert {"session_resumed", "network_lost", "network_back"} <= set(kinds)
        window.finishing.leave_button.click()
        assert main.isVisible()
    finally:
        desk.close()
        services.runtime.close()
