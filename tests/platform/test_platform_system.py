"""The real System answers (commands, processes, files) and the keep-awake wrapper's promises."""

from __future__ import annotations

import os
import sys

import psutil

from zhishiyun.platform.base import KeepAwakeStatus, System, held


def test_run_captures_output_and_exit_code():
    result = System().run([sys.executable, "-c", "import sys; print('hi'); sys.exit(3)"])
    assert result.returncode == 3 and result.stdout.strip() == "hi"


def test_a_missing_program_or_a_hung_one_is_none_not_an_exception():
    assert System().run(["zhishiyun-no-such-program-here"]) is None
    assert System().run([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5) \
        is None


def test_process_names_include_this_one_lower_case_without_exe():
    names = System().process_names()
    mine = psutil.Process(os.getpid()).name().lower().removesuffix(".exe")
    assert mine in names and all(n == n.lower() and not n.endswith(".exe") for n in names)


def test_read_text_of_a_missing_file_is_none(tmp_path):
    assert System().read_text(str(tmp_path / "absent")) is None
    (tmp_path / "f").write_text("x\n")
    assert System().read_text(str(tmp_path / "f")) == "x\n"


def test_keep_awake_failing_to_start_or_stop_never_reaches_the_recording():
    def acquire():
        raise OSError("no power manager")

    ran = False
    with held(acquire) as status:
        ran = True
    assert ran and not status.active and status.reason == "no power manager"

    def acquire_then_fail_release():
        def release():
            raise OSError("gone")
        return KeepAwakeStatus(True, method="test"), release

    with held(acquire_then_fail_release) as status:
        assert status.active
    assert not status.active
