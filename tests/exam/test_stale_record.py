"""The active-session record has an end: after the exam's end it offers no return, holds
back no update, and goes away once nothing of the session is left to upload."""

from __future__ import annotations

from tests.exam.conftest import login, shape
from tests.exam.helpers import kill_exam_mid_way, wait_for
from zhishiyun.active_session import read_record
from zhishiyun.config import load_settings
from zhishiyun.exam.runtime import ExamRuntime
from zhishiyun.update.updater import Updater


def test_a_record_left_by_a_kill_ends_after_the_exam(server_factory, devices, isolated_home):
    server = server_factory()
    exam_id = shape(server, "written", start_in=0, duration_s=300)
    login(server.url).accept(exam_id)
    settings = load_settings({"server_url": server.url})
    data = settings.data_path
    session_id = kill_exam_mid_way(server.url, exam_id, data, devices)
    record = read_record(data)
    assert record is not None and record.session_id == session_id
    during = ExamRuntime(login(server.url), data)
    try:
        assert during.active_session().session_id == session_id  # the exam still runs
        assert Updater.from_settings(settings).exam_in_progress()  # no update mid-exam
    finally:
        during.close()

    # Zhishiyun starts again an hour later, after the exam's end
    server.stop()
    server.env = {"ZHISHIYUN_SERVER_CLOCK_OFFSET": "3600"}
    server.start()
    runtime = ExamRuntime(login(server.url), data)
    try:
        runtime.start()  # measures the clock, recovers, queues, uploads
        assert runtime.active_session() is None  # no "return to the exam"
        wait_for(lambda: read_record(data) is None, 60, "the record to go once uploaded")
        assert runtime.pending_uploads() == 0
        # (the server's clock is an hour ahead here, this computer's is not: the updater
        # reads the record, which is gone)
        assert not Updater.from_settings(settings).exam_in_progress()
    finally:
        runtime.close()
