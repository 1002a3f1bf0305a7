"""Resident memory: a recording turns off transparent huge pages for its process.

x264 asks for huge pages on each of its large blocks, which makes them resident in full
(44 MB for a 1080p encoder instead of 39 MB); see ``zhishiyun/capture/memory.py``.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _thp_enabled_after(code: str) -> str:
    # the flag is inherited: start from huge pages on, whatever this process has
    reset = "import ctypes\nctypes.CDLL(None).prctl(41, 0, 0, 0, 0)\n"
    script = reset + textwrap.dedent(code) + textwrap.dedent("""
        status = open("/proc/self/status").read()
        print(status.split("THP_enabled:")[1].split()[0] if "THP_enabled" in status else "?")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, cwd=REPO, check=True)
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="not on this OS: Linux THP")
def test_a_recording_process_runs_without_transparent_huge_pages(display, tmp_path):
    before = _thp_enabled_after("")
    if before == "?":
        pytest.skip("not on this OS: the kernel does not report THP_enabled")
    assert before == "1"
    after = _thp_enabled_after(f"""
        from zhishiyun.capture.recorder import Recorder
        recorder = Recorder({str(tmp_path)!r}, b"k" * 32, camera=None, microphone="none")
        recorder.start()
        recorder.stop()
    """)
    assert after == "0"
