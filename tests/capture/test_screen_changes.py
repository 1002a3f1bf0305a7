"""The screen's change detection notices a change only a few pixel rows tall."""

from __future__ import annotations

import shutil
import subprocess
import time

from tests.conftest import require
from zhishiyun.capture.devices import list_screens, primary_screen_index
from zhishiyun.capture.sources import COMPARE_STRIDE, ScreenSource


def test_a_changing_strip_four_rows_tall_is_recorded(display):
    if not shutil.which("ffplay"):
        require("ffplay", "draws the changing strip on the test display")
    # rows 297-300: no multiple of COMPARE_STRIDE, so comparing a fixed set of rows
    # (0, 8, 16, ...) would never see it change
    strip = subprocess.Popen(
        ["ffplay", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
         "testsrc2=size=320x4:rate=10", "-an", "-noborder", "-left", "200", "-top", "297",
         "-x", "320", "-y", "4"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    source = ScreenSource(primary_screen_index(list_screens()), fps=10.0)
    try:
        time.sleep(1.5)  # the window is mapped
        source.open()
        source.start()
        time.sleep(3.0)
    finally:
        source.stop()
        strip.terminate()
        strip.wait()
    counters = source.counters
    assert COMPARE_STRIDE == 8
    # every grab compares an eighth of the rows; the strip's rows come up in half of them
    assert counters.queued + counters.dropped >= counters.captured // 4, counters
    assert counters.duplicates > 0, counters  # and the rest of the screen is static
