"""The screen's change detection notices a change only a few pixel rows tall."""

from __future__ import annotations

import shutil
import subprocess
import time

from tests.conftest import require
from zhishiyun.capture.devices import list_screens, mss_instance, primary_screen_index
from zhishiyun.capture.screen import COMPARE_STRIDE, ScreenSource


def _strip_moves(timeout: float) -> bool:
    """True once the strip's rows differ between two grabs 0.3 s apart."""
    deadline = time.monotonic() + timeout
    with mss_instance() as screens:
        region = {"left": 200, "top": 297, "width": 320, "height": 4}
        while time.monotonic() < deadline:
            first = bytes(screens.grab(region).raw)
            time.sleep(0.3)
            if bytes(screens.grab(region).raw) != first:
                return True
    return False


def test_a_changing_strip_four_rows_tall_is_recorded(display):
    if not shutil.which("ffplay"):
        require("ffplay", "draws the changing strip on the test display")
    # rows 297-300: no multiple of COMPARE_STRIDE, so comparing a fixed set of rows
    # (0, 8, 16, ...) would never see it change
    strip = subprocess.Popen(
        ["ffplay", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
         "testsrc2=size=320x240:rate=10", "-vf", "crop=320:4:0:100", "-an", "-noborder",
         "-left", "200", "-top", "297"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    source = ScreenSource(primary_screen_index(list_screens()), fps=10.0)
    try:
        assert _strip_moves(timeout=15.0), "the test strip never appeared on the display"
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
