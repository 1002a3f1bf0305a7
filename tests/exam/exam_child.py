"""A child process that enters an exam and records until it is killed (crash test).

Usage: python -m tests.exam.exam_child URL EXAM_ID DATA_DIR CAMERA MIC
Prints ``READY <session_id>`` once two segments per track are closed and an answer and an
event are saved locally.
"""

from __future__ import annotations

import sys
import time

from tests.exam.conftest import login
from zhishiyun.exam.runtime import ExamRuntime


def main() -> None:
    url, exam_id, data_dir, camera, mic = sys.argv[1:6]
    runtime = ExamRuntime(login(url), data_dir)
    runtime.start()
    session = runtime.session({"id": int(exam_id), "kind": "written"}, camera=camera,
                              microphone=None if mic == "default" else mic)
    session.enter()
    session.save_answer("1", "崩溃前的答案")
    session.record_event("focus_lost", {"seconds": 1})
    while len(session.segment_items()) < 4:
        time.sleep(0.1)
    print("READY", session.session_id, flush=True)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main()
