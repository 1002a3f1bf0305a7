"""The screen is grabbed by x11grab on X11 (no copy per grab), by mss elsewhere or as fallback."""

from __future__ import annotations

import os
import time

import numpy as np

from zhishiyun.capture.devices import list_screens, primary_screen_index
from zhishiyun.capture.screen import ScreenSource
from zhishiyun.capture.screen_grab import GRABBER_ENV, MssGrabber, X11Grabber, open_grabber

REGION = {"left": 0, "top": 0, "width": 320, "height": 240}


def test_x11grab_gives_the_same_pixels_as_mss(display):
    grabber = open_grabber(REGION, 5.0)
    reference = MssGrabber(REGION)
    try:
        assert isinstance(grabber, X11Grabber)
        got, want = grabber.grab(), reference.grab()
    finally:
        grabber.close()
        reference.close()
    assert got.shape == want.shape == (240, 320, 4)
    # the idle test desktop does not change between the two grabs; alpha is padding
    assert np.array_equal(got[:, :, :3], want[:, :, :3])


def test_mss_is_used_where_x11grab_cannot_be(display):
    cases = [
        ({"DISPLAY": os.environ.get("DISPLAY", ""), GRABBER_ENV: "mss"}, None),
        (dict(os.environ), "win32"),
        (dict(os.environ), "darwin"),
    ]
    for environ, platform in cases:
        grabber = open_grabber(REGION, 5.0, environ=environ, platform=platform)
        try:
            assert isinstance(grabber, MssGrabber), (environ.get(GRABBER_ENV), platform)
        finally:
            grabber.close()


def test_an_x11grab_that_fails_to_open_falls_back_to_mss(display):
    outside = {"left": 100000, "top": 0, "width": 320, "height": 240}  # off every screen
    grabber = open_grabber(outside, 5.0)
    try:
        assert isinstance(grabber, MssGrabber)
    finally:
        grabber.close()


def test_the_screen_source_records_through_x11grab_and_keeps_its_rate(display):
    source = ScreenSource(primary_screen_index(list_screens()), fps=5.0,
                          encoder_size=(640, 360))
    source.open()
    source.start()
    time.sleep(2.1)
    source.stop()
    assert source.backend == "x11grab"
    assert not source.lost
    # x11grab paces the grabs itself: ~5 a second, not as fast as it can
    assert 8 <= source.counters.captured <= 13, source.counters
    _, first = source.queue.get_nowait()
    assert (first.width, first.height, first.format.name) == (640, 360, "yuv420p")
