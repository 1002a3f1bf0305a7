"""``zhishiyun exam run`` (the headless exam, a real process) with a prohibited program."""

from __future__ import annotations

import shutil
import subprocess
import time

from tests.exam.conftest import shape
from tests.exam.test_exam_run import exam_run, finished
from tests.integrity.support import report

pytest_plugins = ["tests.exam.conftest"]


def test_a_prohibited_program_started_during_exam_run_shows_in_the_report_by_name(
        server_factory, devices, tmp_path):
    server = server_factory(demo=True)
    shape(server, "written", start_in=0, duration_s=600)
    program = tmp_path / "WeChat"
    shutil.copy(shutil.which("sleep"), program)
    process = exam_run(server.url, tmp_path, devices, 16)
    time.sleep(6)  # entered and recording by now
    chat = subprocess.Popen([str(program), "300"])
    try:
        code, summary, err = finished(process, 150)
    finally:
        chat.kill()
        chat.wait()
    assert code == 0, err

    result = report(server, summary["session_id"])
    assert result["prohibited_programs"] == ["WeChat"]
    found = [e for e in result["events"]["by_kind"] if e.startswith("prohibited_program")]
    assert found == ["prohibited_program"]  # within the 60 s grace: not severe yet
    assert result["stand_in_used"] and "camera_file" in result["stand_ins"]
    assert result["identity_checks"][0]["moment"] == "entry"  # the stand-in shows no face
    assert result["identity_checks"][0]["result"] == "no_face"
    for name in ("screen", "camera"):  # the media tracks the finish names
        state = result["tracks"][name]
        assert state["last_seq"] == state["received"] - 1 and not state["missing"]
