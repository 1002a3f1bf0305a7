"""人脸登录 in the GUI: the real FaceLoginSession, a video file of a face as the camera."""

from __future__ import annotations

from zhishiyun.device_choice import load_choice
from zhishiyun.ui.login_page import LoginWidget
from zhishiyun.ui.qt import Qt

from .conftest import make_services

# Each liveness step lasts 4 s; the video cycles through every pose well within that.
ENV = {"ZHISHIYUN_SERVER_FACE_STEP_SECONDS": "4"}


def test_face_login_guides_and_logs_in(qtbot, server_factory, face_video):
    server = server_factory(env=ENV)
    services = make_services(server.url)
    config = services.client.config().model_dump()
    assert config["face_login"], "the demo server offers face login"
    page = LoginWidget(services.client, config, face_login=services.face_login,
                       preferred_camera=str(face_video))
    qtbot.addWidget(page)
    page.show()
    qtbot.waitUntil(lambda: page.face.camera_box.currentData() == str(face_video),
                    timeout=15_000)
    qtbot.waitUntil(page.preview.has_frame, timeout=15_000)  # live picture before starting
    assert not page.face_button.isEnabled(), "consent first"
    page.consent.setChecked(True)
    page.face.name.setText("张三")  # keyClicks cannot type CJK
    qtbot.keyClicks(page.face.id_number, "110101199003070011")
    with qtbot.waitSignal(page.logged_in, timeout=90_000) as signal:
        qtbot.mouseClick(page.face_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: page.face.progress.isVisible(), timeout=5_000)
    assert signal.args[0].candidate.name == "张三"
    assert services.client.token, "the face login's token is kept by the client"
    assert services.client.me().name == "张三"
    choice = load_choice(services.settings.data_path)  # the exam records with this camera
    assert (choice.camera, choice.chosen_in) == (str(face_video), "face_login")


def test_bad_id_number_is_refused_inline_before_the_camera(qtbot, demo_server):
    services = make_services(demo_server.url)
    page = LoginWidget(services.client, {"face_login": True, "password_login": True},
                       face_login=services.face_login)
    qtbot.addWidget(page)
    page.show()
    page.consent.setChecked(True)
    page.face.name.setText("张三")
    page.face.id_number.setText("110101199003070012")  # wrong check digit
    qtbot.mouseClick(page.face_button, Qt.MouseButton.LeftButton)
    assert page.face.error.isVisible() and page.face.error.text()
    assert page.face_button.isEnabled() and page.face._session is None


