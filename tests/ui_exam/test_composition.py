"""The app's composition root: one runtime and clock, and polls that never wait behind long work."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

from tests.exam.conftest import shape
from zhishiyun.config import load_settings
from zhishiyun.ui.qt import QThreadPool, QWidget


def test_status_poll_completes_while_entering_an_exam_is_stuck(server_factory, devices,
                                                               qtbot):
    from zhishiyun.ui import exam_entry
    from zhishiyun.ui.app import build_services
    from zhishiyun.ui.status_bar import StatusBarWidget

    server = server_factory()
    exam_id = shape(server, "written", start_in=300, duration_s=600)
    services = build_services(load_settings({"server_url": server.url,
                                             "camera": devices["camera"],
                                             "microphone": devices["microphone"] or ""}))
    services.client.login_password("110101199003070011", "zsy-demo-1")
    services.client.accept(exam_id)
    exam = next(e for e in services.client.exams() if e.id == exam_id)
    main = QWidget()
    qtbot.addWidget(main)
    desk = exam_entry.ExamDesk(main, services)
    release = threading.Event()
    pool = QThreadPool.globalInstance()
    stuck = [pool.start(lambda: release.wait(30)) for _ in range(pool.maxThreadCount())]
    try:
        desk.enter(exam)  # waits behind the stuck long tasks, like a slow enter would
        bar = StatusBarWidget(services.runtime)
        qtbot.addWidget(bar)
        qtbot.waitUntil(lambda: bar.online is True and bar.pending == 0, timeout=10_000)
        assert bar.network_label.text() == "网络：已连接"
        assert exam_id not in desk.windows, "the enter is still waiting"
        release.set()
        qtbot.waitUntil(lambda: exam_id in desk.windows, timeout=20_000)
        assert desk.windows[exam_id].session.clock is services.runtime.clock
    finally:
        release.set()
        assert len(stuck) == pool.maxThreadCount()
        pool.waitForDone(30_000)
        desk.close()
        services.runtime.close()


def test_the_status_bar_the_cards_and_the_exam_share_one_server_clock(server_factory, qtbot):
    from zhishiyun.ui.app import build_services
    from zhishiyun.ui.status_bar import StatusBarWidget

    hour = 3600.0
    server = server_factory(env={"ZHISHIYUN_SERVER_CLOCK_OFFSET": str(hour)})
    services = build_services(load_settings({"server_url": server.url}))
    try:
        bar = StatusBarWidget(services.runtime)  # its ping measures the runtime's clock
        qtbot.addWidget(bar)
        qtbot.waitUntil(lambda: bar.online is True, timeout=10_000)
        ahead = (services.server_now() - datetime.now(timezone.utc)).total_seconds()
        assert abs(ahead - hour) < 60, ahead
        bar._on_clock_tick()
        shown = services.runtime.server_now().astimezone().strftime("%Y-%m-%d %H:%M")
        assert shown in bar.time_label.text()
        session = services.runtime.session({"id": 1, "name": "x", "kind": "written"})
        assert session.clock is services.runtime.clock  # the countdown uses the same time
    finally:
        services.runtime.close()
