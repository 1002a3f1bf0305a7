"""The client's capture and guidance against the real server, a video file as the camera."""

from __future__ import annotations

import threading

import faces
import pytest
from face_api import ZHANG

from zhishiyun.auth.face_client import FaceClient
from zhishiyun.auth.face_identity import IdNumberError, validate_id_number
from zhishiyun.auth.face_session import FaceLoginSession

# Each step lasts 4 s; the video cycles through all 8 poses in 3.2 s, so every step's
# window holds each pose at least once, whatever order the server draws.
ENV = {"ZHISHIYUN_SERVER_FACE_STEP_SECONDS": "4"}


@pytest.fixture(scope="module")
def astronaut_video(tmp_path_factory):
    return faces.write_cycle_video(tmp_path_factory.mktemp("camera") / "astronaut.avi",
                                   "astronaut", pose_s=0.4, seconds=16)


def _session(server, camera, who=ZHANG, **callbacks) -> FaceLoginSession:
    return FaceLoginSession(FaceClient(server.url), who[0], who[1], str(camera), **callbacks)


def test_face_login_through_a_video_camera(server_factory, astronaut_video):
    server = server_factory(demo=True, env=ENV)
    seen = {"frames": 0, "boxes": 0, "threads": set()}
    hints, progress = [], []

    def on_frame(frame, box):
        seen["frames"] += 1
        seen["boxes"] += box is not None
        seen["threads"].add(threading.current_thread().name)
        assert frame.shape == (480, 640, 3)

    session = _session(server, astronaut_video, on_frame=on_frame,
                       on_hint=lambda text, code: hints.append(code),
                       on_progress=lambda f, text: progress.append(f))
    session.start()
    result = session.wait(90)
    assert result is not None and result.ok, result.error and result.error.one_line()
    assert result.login.candidate.name == "张三" and result.login.token
    # The candidate was guided through each step, on the worker thread, with a face box.
    assert "look" in hints and len(set(hints) & set(faces.POSES)) >= 2
    assert progress[-1] == 1.0 and progress == sorted(progress)
    assert seen["threads"] == {"face-login"}
    assert seen["boxes"] >= 0.75 * seen["frames"] > 60  # turned heads escape Haar at times
    print(f"\nclient timings: {result.timings}")


def test_wrong_check_digit_is_refused_before_any_camera_work():
    with pytest.raises(IdNumberError):
        validate_id_number("110101199003070012")
    session = FaceLoginSession(FaceClient("http://127.0.0.1:9"), "张三", "110101199003070012",
                               "/no/such/camera.avi")
    with pytest.raises(IdNumberError) as caught:
        session.start()
    assert "last character" in caught.value.message
    assert session.result is None and session._thread is None  # nothing was started
    assert validate_id_number(" 11010119900307002x ") == "11010119900307002X"


def test_cancel_starts_the_cooldown(server_factory, astronaut_video):
    server = server_factory(demo=True, env=ENV)
    holder = {}

    def on_hint(text, code):
        if code == "look":  # the challenge has begun: the candidate gives up
            holder["session"].cancel()

    holder["session"] = session = _session(server, astronaut_video, on_hint=on_hint)
    session.start()
    result = session.wait(60)
    assert result.cancelled and not result.ok and 55 <= result.cooldown_s <= 60

    again = _session(server, astronaut_video)
    again.start()
    result = again.wait(60)
    assert not result.ok and result.error.code == "face_cooldown"
    assert result.cooldown_s > 0 and "seconds" in result.error.message
