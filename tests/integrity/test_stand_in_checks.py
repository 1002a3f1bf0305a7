"""Stand-in devices in the checks: refused unless the organisation allows them."""

from __future__ import annotations

import numpy as np
import pytest

from tests.integrity.support import admin
from zhishiyun.checks import CheckRunner, Status
from zhishiyun.checks.camera import CameraCheck
from zhishiyun.checks.context import CheckContext
from zhishiyun.checks.microphone import MicrophoneCheck
from zhishiyun.config import load_settings


@pytest.fixture
def clip(tmp_path):
    import cv2

    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 15, (320, 240))
    rng = np.random.default_rng(3)
    for _ in range(6):
        writer.write(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8))
    writer.release()
    return path


def _run(check, server_url: str, **settings):
    context = CheckContext(load_settings({"server_url": server_url, **settings}))
    return CheckRunner([check], context).run().results[0]


def test_with_stand_ins_off_a_video_file_camera_fails_the_check(server_factory, clip):
    server = server_factory(demo=False)
    result = _run(CameraCheck(), server.url, camera=str(clip))
    assert result.status is Status.FAIL and result.blocking
    assert "video file is set as the camera" in result.message
    assert "camera" in result.fix and result.details["stand_in"] == "camera_file"

    assert admin(server, "stand-in-devices", "on").returncode == 0
    allowed = _run(CameraCheck(), server.url, camera=str(clip))
    assert allowed.status is Status.PASS, allowed.message
    assert allowed.details["stand_in"] == "camera_file"


def test_with_stand_ins_off_no_microphone_fails_the_check(server_factory):
    server = server_factory(demo=False)
    result = _run(MicrophoneCheck(), server.url, microphone="none")
    assert result.status is Status.FAIL and result.blocking
    assert "microphone is turned off" in result.message


def test_the_demo_organisation_allows_stand_ins(demo_server, clip):
    result = _run(CameraCheck(), demo_server.url, camera=str(clip))
    assert result.status is Status.PASS, result.message
