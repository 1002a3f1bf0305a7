"""The start-up checks test the devices the candidate chose on this computer.

The device test, face login and the exam's confirmation save a choice
(:mod:`zhishiyun.device_choice`); the camera and microphone checks test that one, the
command line still wins, and a chosen device that is gone falls back to the settings.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.checks.devices import STAND_INS, needs_pulse, run_one, write_video
from zhishiyun.checks import Status
from zhishiyun.checks.camera import CameraCheck
from zhishiyun.checks.microphone import MicrophoneCheck
from zhishiyun.config import load_settings, save_user_settings
from zhishiyun.device_choice import save_choice


@pytest.fixture
def scene(tmp_path):
    """A video file that shows a picture: a working stand-in camera."""
    rng = np.random.default_rng(7)
    return write_video(tmp_path / "scene.avi",
                       lambda i: rng.integers(0, 256, (240, 320, 3), dtype=np.uint8))


@pytest.fixture
def covered(tmp_path):
    """A video file that shows only black: a covered camera."""
    return write_video(tmp_path / "covered.avi",
                       lambda i: np.zeros((240, 320, 3), dtype=np.uint8))


def data_dir():
    return load_settings().data_path


def test_the_check_tests_the_chosen_camera_over_the_settings(make_context, scene, covered):
    save_user_settings({"camera": str(covered)})  # the settings name a covered camera
    save_choice(data_dir(), str(scene), "", chosen_in="device_test")
    result = run_one(CameraCheck(), make_context(integrity=STAND_INS))
    assert result.status is Status.PASS, result.message
    assert result.message == "The video file scene.avi works (320×240)."
    assert result.details["camera"] == str(scene)
    assert result.details["chosen_in"] == "device_test"
    # a camera given on the command line wins over the choice
    explicit = run_one(CameraCheck(), make_context(settings={"camera": str(covered)},
                                                   integrity=STAND_INS))
    assert explicit.status is Status.FAIL and "covered.avi" in explicit.message
    assert "chosen_in" not in explicit.details


def test_a_chosen_camera_that_is_gone_falls_back_to_the_settings(make_context, scene,
                                                                 tmp_path, caplog):
    save_user_settings({"camera": str(scene)})
    gone = write_video(tmp_path / "unplugged.avi",
                       lambda i: np.zeros((240, 320, 3), dtype=np.uint8))
    save_choice(data_dir(), str(gone), "", chosen_in="face_login")
    gone.unlink()
    with caplog.at_level(logging.INFO, logger="zhishiyun.checks"):
        result = run_one(CameraCheck(), make_context(integrity=STAND_INS))
    assert result.status is Status.PASS, result.message
    assert "scene.avi" in result.message and result.details["camera"] == str(scene)
    assert "chosen_in" not in result.details
    said = [r.getMessage() for r in caplog.records if "no longer there" in r.getMessage()]
    assert len(said) == 1 and "unplugged.avi" in said[0] and "scene.avi" in said[0]


@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="not on this OS: cameras are listed without opening only on Linux")
def test_a_chosen_camera_index_that_is_not_listed_falls_back(make_context, scene, caplog):
    from zhishiyun.capture.devices import list_cameras

    unplugged = 1 + max((c.index for c in list_cameras(probe=False)), default=-1)
    save_user_settings({"camera": str(scene)})
    save_choice(data_dir(), unplugged, "", chosen_in="exam_confirmation")
    with caplog.at_level(logging.INFO, logger="zhishiyun.checks"):
        result = run_one(CameraCheck(), make_context(integrity=STAND_INS))
    assert result.status is Status.PASS and "scene.avi" in result.message, result.message
    assert sum("no longer there" in r.getMessage() for r in caplog.records) == 1


def test_a_chosen_stand_in_the_organisation_refuses_points_to_the_device_test(make_context,
                                                                            scene):
    save_choice(data_dir(), str(scene), "", chosen_in="device_test")
    result = run_one(CameraCheck(), make_context())  # no server: no stand-ins allowed
    assert result.status is Status.FAIL and result.details["stand_in"] == "camera_file"
    assert "device test" in result.fix and "settings" not in result.fix


@needs_pulse
def test_the_check_records_the_chosen_microphone(make_context):
    save_user_settings({"microphone": "NoSuchHeadset"})  # the settings name a missing one
    save_choice(data_dir(), 0, "pulse", chosen_in="device_test")
    result = run_one(MicrophoneCheck(), make_context())
    if not result.details.get("microphones"):
        pytest.skip("PortAudio was loaded before PulseAudio started: no inputs in this process")
    assert result.status is Status.PASS, result.message
    assert result.details["microphone"] == "PulseAudio"
    assert result.details["chosen_in"] == "device_test"


@needs_pulse
def test_a_chosen_microphone_that_is_gone_falls_back_to_the_settings(make_context, caplog):
    save_choice(data_dir(), 0, "Headset Microphone (Jabra Evolve 20), Windows WASAPI",
                chosen_in="device_test")
    with caplog.at_level(logging.INFO, logger="zhishiyun.checks"):
        result = run_one(MicrophoneCheck(), make_context())
    if not result.details.get("microphones"):
        pytest.skip("PortAudio was loaded before PulseAudio started: no inputs in this process")
    assert result.status is Status.PASS, result.message  # the default: the virtual mic
    assert "chosen_in" not in result.details
    said = [r.getMessage() for r in caplog.records if "no longer there" in r.getMessage()]
    assert len(said) == 1 and "Jabra" in said[0]


def zhishiyun(*args):
    return subprocess.run([sys.executable, "-m", "zhishiyun", *args], capture_output=True,
                          text=True, timeout=90, env=dict(os.environ))


@pytest.mark.integration
def test_check_headless_tests_the_chosen_camera_and_the_command_line_wins(demo_server,
                                                                          scene, covered):
    save_choice(data_dir(), str(scene), "", chosen_in="device_test")
    done = zhishiyun("check", "--headless", "--json", "--only", "camera",
                     "--server", demo_server.url)  # the demo organisation allows stand-ins
    camera = json.loads(done.stdout)["checks"][0]
    assert camera["status"] == "pass", (camera, done.stderr)
    assert "scene.avi" in camera["message"] and camera["details"]["chosen_in"] == "device_test"
    assert done.returncode == 0
    done = zhishiyun("check", "--headless", "--json", "--only", "camera",
                     "--server", demo_server.url, "--camera", str(covered))
    camera = json.loads(done.stdout)["checks"][0]
    assert camera["status"] == "fail" and "covered.avi" in camera["message"]
    assert done.returncode == 1
