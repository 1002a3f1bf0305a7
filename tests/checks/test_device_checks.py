"""camera, microphone and display on real (virtual) devices: video files standing in for
the camera through the capture code path, PulseAudio's virtual microphone, Xvfb screens."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import subprocess

import numpy as np
import pytest

from tests.checks.devices import STAND_INS, needs_pulse, run_one, write_video
from zhishiyun.checks import Status
from zhishiyun.checks.camera import CameraCheck
from zhishiyun.checks.display import DisplayCheck
from zhishiyun.checks.microphone import MicrophoneCheck

# --- camera ------------------------------------------------------------------------------

@pytest.fixture
def camera_videos(tmp_path):
    rng = np.random.default_rng(7)
    return {
        "scene": write_video(tmp_path / "scene.avi",
                             lambda i: rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)),
        "covered": write_video(tmp_path / "covered.avi",
                               lambda i: np.zeros((240, 320, 3), dtype=np.uint8)),
        "dark": write_video(tmp_path / "dark.avi",
                            lambda i: rng.integers(0, 40, (240, 320, 3), dtype=np.uint8)),
    }


def test_camera_pass_warn_fail_on_video_stand_ins(make_context, camera_videos):
    ok = run_one(CameraCheck(), make_context(settings={"camera": str(camera_videos["scene"])},
                                             integrity=STAND_INS))
    assert ok.status is Status.PASS, ok.message
    assert "320×240" in ok.message and ok.details["stddev"] > 20
    assert ok.details["stand_in"] == "camera_file"
    dark = run_one(CameraCheck(), make_context(settings={"camera": str(camera_videos["dark"])},
                                               integrity=STAND_INS))
    assert dark.status is Status.WARN and "very dark" in dark.message and "light" in dark.fix
    covered = run_one(CameraCheck(),
                      make_context(settings={"camera": str(camera_videos["covered"])},
                                   integrity=STAND_INS))
    assert covered.status is Status.FAIL and "blank picture" in covered.message
    assert "lens cover" in covered.fix and covered.blocking


def test_camera_that_cannot_be_opened_fails_with_the_reason(make_context, tmp_path):
    broken = tmp_path / "broken.avi"
    broken.write_bytes(b"not a video at all")
    result = run_one(CameraCheck(), make_context(settings={"camera": str(broken)},
                                                 integrity=STAND_INS))
    assert result.status is Status.FAIL and "No camera gives a picture" in result.message
    assert "cannot be read as a camera" in result.message


@pytest.mark.skipif(any(os.path.exists(f"/dev/video{i}") for i in range(6)),
                    reason="this machine has a camera")
def test_no_camera_at_all(make_context):
    result = run_one(CameraCheck(), make_context())
    assert result.status is Status.FAIL and result.message == "No camera was found."


# --- microphone --------------------------------------------------------------------------

@needs_pulse
def test_microphone_records_the_virtual_microphone(make_context):
    result = run_one(MicrophoneCheck(), make_context())
    if not result.details.get("microphones"):
        pytest.skip("PortAudio was loaded before PulseAudio started: no inputs in this process")
    assert result.status is Status.PASS, result.message
    assert result.details["rms_dbfs"] > -40  # the 440 Hz tone of vmic


@needs_pulse
def test_microphone_warns_on_pure_silence(make_context, monkeypatch):
    module = subprocess.run(
        ["pactl", "load-module", "module-null-source", "source_name=zsy_check_silence"],
        capture_output=True, text=True, check=True).stdout.strip()
    try:
        monkeypatch.setenv("PULSE_SOURCE", "zsy_check_silence")  # read when a stream opens
        result = run_one(MicrophoneCheck(), make_context())
    finally:
        subprocess.run(["pactl", "unload-module", module], check=False)
    if not result.details.get("microphones"):
        pytest.skip("PortAudio was loaded before PulseAudio started: no inputs in this process")
    assert result.status is Status.WARN, result.message
    assert "only silence" in result.message and "muted" in result.fix


def test_microphone_that_does_not_exist_fails(make_context):
    result = run_one(MicrophoneCheck(), make_context(settings={"microphone": "NoSuchHeadset"}))
    assert result.status is Status.FAIL
    assert "NoSuchHeadset" in result.message or "No microphone was found" in result.message


def test_microphone_turned_off_is_skipped_where_stand_ins_are_allowed(make_context):
    result = run_one(MicrophoneCheck(), make_context(settings={"microphone": "none"},
                                                     integrity=STAND_INS))
    assert result.status is Status.SKIP


# --- display -----------------------------------------------------------------------------

@pytest.fixture
def private_xvfb(monkeypatch):
    """``start(width, height)`` → a new Xvfb display, made current through DISPLAY."""
    if not shutil.which("Xvfb"):
        pytest.skip("no Xvfb")
    started = []

    def start(width: int, height: int) -> str:
        read, write = os.pipe()
        proc = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0",
                                 f"{width}x{height}x24", "-nolisten", "tcp"],
                                pass_fds=(write,), stderr=subprocess.DEVNULL)
        os.close(write)
        started.append(proc)
        with os.fdopen(read) as fh:
            number = fh.readline().strip()
        assert number, "Xvfb did not start"
        display = f":{number}"
        monkeypatch.setenv("DISPLAY", display)
        return display

    yield start
    for proc in started:
        proc.terminate()
        proc.wait(10)


class XRRMonitorInfo(ctypes.Structure):
    _fields_ = [("name", ctypes.c_ulong), ("primary", ctypes.c_int),
                ("automatic", ctypes.c_int), ("noutput", ctypes.c_int),
                ("x", ctypes.c_int), ("y", ctypes.c_int), ("width", ctypes.c_int),
                ("height", ctypes.c_int), ("mwidth", ctypes.c_int), ("mheight", ctypes.c_int),
                ("outputs", ctypes.c_void_p)]


def split_into_monitors(display: str, count: int, width: int, height: int):
    """Define ``count`` side-by-side RandR monitors (what `xrandr --setmonitor` does)."""
    xlib = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
    xrandr = ctypes.CDLL(ctypes.util.find_library("Xrandr") or "libXrandr.so.2")
    xlib.XOpenDisplay.restype = ctypes.c_void_p
    xlib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    xlib.XDefaultRootWindow.restype = ctypes.c_ulong
    xlib.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
    xlib.XInternAtom.restype = ctypes.c_ulong
    xlib.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    xlib.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
    xrandr.XRRSetMonitor.argtypes = [ctypes.c_void_p, ctypes.c_ulong,
                                     ctypes.POINTER(XRRMonitorInfo)]
    dpy = xlib.XOpenDisplay(display.encode())
    assert dpy, f"cannot open {display}"
    root = xlib.XDefaultRootWindow(dpy)
    part = width // count
    for i in range(count):
        info = XRRMonitorInfo(name=xlib.XInternAtom(dpy, f"ZSY-{i}".encode(), 0),
                              primary=int(i == 0), automatic=0, noutput=0, x=i * part, y=0,
                              width=part, height=height, mwidth=254, mheight=286, outputs=None)
        xrandr.XRRSetMonitor(dpy, root, ctypes.byref(info))
    xlib.XSync(dpy, 0)
    return dpy  # keep the connection open while the test runs


def test_display_one_monitor_passes(make_context, private_xvfb):
    private_xvfb(1920, 1080)
    result = run_one(DisplayCheck(), make_context())
    assert result.status is Status.PASS, result.message
    assert result.details["count"] == 1 and "1920×1080" in result.message


def test_display_small_screen_warns(make_context, private_xvfb):
    private_xvfb(800, 600)
    result = run_one(DisplayCheck(), make_context())
    assert result.status is Status.WARN and "800×600" in result.message


def test_display_two_monitors_fail_with_the_count(make_context, private_xvfb):
    display = private_xvfb(3840, 1080)
    split_into_monitors(display, 2, 3840, 1080)
    result = run_one(DisplayCheck(), make_context())
    assert result.status is Status.FAIL, result.details
    count = result.details["count"]
    assert count >= 2 and f"{count} monitors are connected; only 1 is allowed" in result.message


def test_display_with_no_monitor_fails(make_context, monkeypatch):
    from zhishiyun.capture import devices

    monkeypatch.setattr(devices, "list_screens", lambda: [])  # the screen list mss gives
    result = run_one(DisplayCheck(), make_context())
    assert result.status is Status.FAIL and "No monitor was found" in result.message
    assert result.blocking


def test_no_display_fails_with_a_reason(make_context, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    result = run_one(DisplayCheck(), make_context())
    assert result.status is Status.FAIL and "cannot be captured" in result.message
