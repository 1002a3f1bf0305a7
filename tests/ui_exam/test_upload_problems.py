"""An upload the server keeps refusing is shown with its reason and what to do."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.exam.conftest import REPO_ROOT, login
from tests.exam.helpers import wait_for
from zhishiyun.exam.runtime import ExamRuntime


def test_a_refused_upload_is_shown_in_the_status_bar_and_by_zhishiyun_upload(
        demo_server, qtbot, isolated_home):
    from zhishiyun.ui.status_bar import StatusBarWidget

    client = login(demo_server.url)
    runtime = ExamRuntime(client, isolated_home / "data")
    try:
        runtime.start()
        runtime.queue.enqueue_json("answer", "0" * 32,
                                   f"{client.api_url}/sessions/{'0' * 32}/answers/1",
                                   {"version": 1, "content": "x"}, method="PUT")
        wait_for(lambda: runtime.upload_problem(), 30, "the refusal")
        bar = StatusBarWidget(runtime)
        qtbot.addWidget(bar)
        qtbot.waitUntil(lambda: bar.problem is not None, timeout=10_000)
        assert "拒绝" in bar.uploads_label.text() and "技术支持" in bar.uploads_label.text()
    finally:
        runtime.close()
    upload = subprocess.run([sys.executable, "-m", "zhishiyun", "--language", "en", "upload"],
                            capture_output=True, text=True, timeout=60, cwd=REPO_ROOT,
                            env={**os.environ})
    assert upload.returncode == 1
    assert "The exam server refused an upload" in upload.stdout
    assert "Contact support" in upload.stdout
