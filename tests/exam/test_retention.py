"""Local retention: files leave this computer only after the server confirmed them."""

from __future__ import annotations

import time

from tests.exam.conftest import login, shape
from tests.exam.helpers import wait_for
from zhishiyun.capture.recovery import segment_files
from zhishiyun.exam.retention import MARK_NAME, sweep
from zhishiyun.exam.runtime import ExamRuntime
from zhishiyun.exam.session import State

DAY = 86400


def test_confirmed_sessions_go_after_the_retention_unconfirmed_ones_never(
        server_factory, devices, isolated_home):
    server = server_factory()
    written = shape(server, "written", start_in=0, duration_s=600)
    interview = shape(server, "interview", start_in=0, duration_s=600)
    client = login(server.url)
    client.accept(written)
    client.draw_lot(interview)
    client.accept(interview)
    data = isolated_home / "data"
    runtime = ExamRuntime(client, data)
    runtime.start()
    try:
        done = runtime.session({"id": written, "kind": "written"}, **devices)
        done.enter()
        wait_for(lambda: len(done.segment_items()) >= 2, 20, "closed segments")
        done.finish("candidate_ended")
        wait_for(lambda: done.state == State.DONE, 60, "every upload confirmed")

        pending = runtime.session({"id": interview, "kind": "interview"}, **devices)
        pending.enter()
        wait_for(lambda: len(pending.segment_items()) >= 2, 20, "closed segments")
        server.stop()  # its last segments are never confirmed
        pending.finish("candidate_ended")
        unconfirmed = [p for _t, _s, p in segment_files(pending.session_dir)]

        now = time.time()
        assert sweep(runtime.queue, data, 7, now) == []  # confirmed: the clock starts
        assert (done.session_dir / MARK_NAME).exists()
        # what the support page shows: how much this computer holds, for which exams
        held = {h.session_id: h for h in runtime.local_holdings()}
        assert set(held) == {done.session_id, pending.session_id}
        assert held[done.session_id].exam_name == done.exam_name != ""
        assert held[done.session_id].confirmed is True
        assert held[done.session_id].delete_at > now + 6 * DAY
        assert held[done.session_id].segments == len(segment_files(done.session_dir))
        assert held[done.session_id].bytes >= sum(
            p.stat().st_size for _t, _s, p in segment_files(done.session_dir))
        assert (held[pending.session_id].confirmed, held[pending.session_id].delete_at) == (
            False, None)
        assert held[pending.session_id].segments >= 2
        assert sweep(runtime.queue, data, 7, now + 6 * DAY) == []
        assert done.session_dir.is_dir()
        assert sweep(runtime.queue, data, 7, now + 8 * DAY) == [done.session_id]
        assert not done.session_dir.exists()

        for days in (0, 7):  # whatever the clock and the setting say
            assert sweep(runtime.queue, data, days, now + 1000 * DAY) == []
        assert all(p.exists() for p in unconfirmed) and unconfirmed
        assert not (pending.session_dir / MARK_NAME).exists()
    finally:
        runtime.close()


def test_zero_retention_from_the_server_deletes_right_after_confirmation(
        server_factory, devices, isolated_home):
    import subprocess
    import sys

    server = server_factory()
    subprocess.run([sys.executable, "-m", "zhishiyun_server", "admin", "--db", server.db_url,
                    "set-org", "--local-retention-days", "0"], check=True,
                   capture_output=True, timeout=60)
    written = shape(server, "written", start_in=0, duration_s=600)
    client = login(server.url)
    assert client.raw("GET", "/config", auth=False).json()["local_retention_days"] == 0
    client.accept(written)
    runtime = ExamRuntime(client, isolated_home / "data")
    runtime.start()
    try:
        session = runtime.session({"id": written, "kind": "written"}, **devices)
        session.enter()
        wait_for(lambda: len(session.segment_items()) >= 2, 20, "closed segments")
        session.finish("candidate_ended")
        # no restart, no later sweep: the last confirmation itself removes the files
        wait_for(lambda: not session.session_dir.exists(), 60, "local files deleted")
        assert runtime.queue.items(session.session_id)
        assert all(i.state == "done" for i in runtime.queue.items(session.session_id)
                   if i.kind == "segment")
    finally:
        runtime.close()
