"""A required update published during an exam: the exam goes on, the update comes after it.

A session is killed mid-exam; a check then finds a required update: the version check only
warns (nobody is locked out of the running exam), nothing installs, the update is
remembered. Zhishiyun starts again after the exam's end: no return to the exam, the record
is gone, and the remembered update is downloaded from the organisation's host and installed.
"""

from __future__ import annotations

from tests.exam.conftest import login, shape
from tests.exam.helpers import kill_exam_mid_way, wait_for
from tests.update.conftest import file_server, org_key, publish  # noqa: F401 - fixtures
from tests.update.test_update_end_to_end import make_installer
from tests.update.test_update_end_to_end import wait_for as wait_for_file
from zhishiyun.active_session import read_record
from zhishiyun.checks.base import Status
from zhishiyun.checks.context import CheckContext
from zhishiyun.checks.version import VersionCheck
from zhishiyun.config import load_settings
from zhishiyun.exam.runtime import ExamRuntime
from zhishiyun.update import UpdateError, UpdateKind
from zhishiyun.update.updater import Updater


def test_a_required_update_waits_for_the_exam_then_installs(
        server_factory, devices, isolated_home, file_server, org_key, tmp_path):  # noqa: F811
    import pytest

    server = server_factory()
    exam_id = shape(server, "written", start_in=0, duration_s=300)
    login(server.url).accept(exam_id)
    settings = load_settings({"server_url": server.url})
    data = settings.data_path
    kill_exam_mid_way(server.url, exam_id, data, devices)

    # during the exam the organisation publishes a release everyone must install
    install_dir = tmp_path / "installed"
    install_dir.mkdir()
    (install_dir / "VERSION").write_text("0.1.0\n")
    marker = tmp_path / "installer-ran"
    setup = make_installer(file_server.root / "required.run", install_dir, marker, 50)
    key_file, public_key = org_key
    publish(server, file=setup, url=f"{file_server.url}/required.run", key=key_file,
            version="9.0.0", minimum="9.0.0")

    def updater():
        return Updater.from_settings(settings, public_key=public_key, platform="linux",
                                     current_version="0.1.0")

    during = updater()
    assert during.check().kind is UpdateKind.MANDATORY
    with pytest.raises(UpdateError) as refused:
        during.update_now()
    assert refused.value.code == "exam_in_progress"
    assert during.pending_after_exam() == "9.0.0"
    version = VersionCheck().run(CheckContext(settings, client_version="0.1.0"))
    assert version.status is Status.WARN and version.details["after_exam"], version
    assert file_server.requests_for("required.run") == []

    # Zhishiyun starts again an hour later, after the exam's end
    server.stop()
    server.env = {"ZHISHIYUN_SERVER_CLOCK_OFFSET": "3600"}
    server.start()
    runtime = ExamRuntime(login(server.url), data)
    try:
        runtime.start()
        assert runtime.active_session() is None  # no "return to the exam"
        wait_for(lambda: read_record(data) is None, 60, "the record to go once uploaded")
    finally:
        runtime.close()
    version = VersionCheck().run(CheckContext(settings, client_version="0.1.0"))
    assert version.status is Status.FAIL  # no exam runs: the update is due now
    after = updater()
    command = after.install_after_exam()
    assert command and command[-1] == "--silent"
    assert wait_for_file(marker), "the installer was not started"
    assert (install_dir / "VERSION").read_text().strip() == "0.2.0"  # what the script writes
    assert after.pending_after_exam() is None
