"""Face login never strands anyone: progress, cancel, one error, support, review, password.

The real server (face engine, policy from its environment), the real FaceLoginSession and a
video file of a face as the camera.
"""

from __future__ import annotations

from sqlalchemy import select

from tests.exam.conftest import server_db
from zhishiyun.ui.login_page import LoginWidget
from zhishiyun.ui.qt import Qt

from .conftest import make_services
from .test_face_login_widget import ENV

LEFT = Qt.MouseButton.LeftButton
#: No face attempts left at all: the first try meets the organisation's fallback.
EXHAUSTED = {**ENV, "ZHISHIYUN_SERVER_FACE_MAX_FAILURES": "0"}


def login_page(qtbot, url, camera=""):
    services = make_services(url)
    config = services.client.config().model_dump()
    page = LoginWidget(services.client, config, face_login=services.face_login,
                       preferred_camera=str(camera))
    qtbot.addWidget(page)
    page.show()
    return page, services


def fill_in(page) -> None:
    page.consent.setChecked(True)
    page.face.name.setText("张三")
    page.face.id_number.setText("110101199003070011")


def set_password_login(server, allowed: bool) -> None:
    from zhishiyun_server.models import Organisation

    with server_db(server)() as db:
        db.scalar(select(Organisation)).password_login = allowed
        db.commit()


def test_support_phone_agreements_and_what_the_button_still_needs(qtbot, demo_server):
    page, services = login_page(qtbot, demo_server.url)
    phone = services.client.config().support.phone
    assert phone and phone in page.support_line.text() and page.support_line.isVisible()
    assert not page.face_button.isEnabled()
    assert "agree" in page.missing.text() and page.missing.isVisible()
    assert page.face_button.toolTip() == page.missing.text()
    page.consent.setChecked(True)
    assert "name" in page.missing.text()
    page.face.name.setText("张三")
    assert "ID number" in page.missing.text()
    page.face.id_number.setText("110101199003070011")
    assert page.missing.isHidden()

    page.show_agreement("user_agreement")
    qtbot.waitUntil(lambda: "用户协议" in page.agreement_box.text(), timeout=10_000)
    page.agreement_box.close()
    page.show_agreement("privacy_policy")
    qtbot.waitUntil(lambda: "隐私政策" in page.agreement_box.text(), timeout=10_000)
    page.agreement_box.close()


def test_cancel_while_recognising_gives_the_form_back(qtbot, server_factory, face_video):
    page, _services = login_page(qtbot, server_factory(env=ENV).url, face_video)
    qtbot.waitUntil(lambda: page.face.camera_box.currentData() == str(face_video),
                    timeout=15_000)
    fill_in(page)
    qtbot.mouseClick(page.face_button, LEFT)
    assert page.face.cancel_button.isVisible() and page.face.progress.isVisible()
    qtbot.waitUntil(lambda: page.face.progress.value() > 0, timeout=20_000)  # it moves
    qtbot.mouseClick(page.face.cancel_button, LEFT)
    assert page.face.progress.isHidden() and page.face.cancel_button.isHidden()
    assert page.face_button.isEnabled()
    assert page.face.error.text() == "Face login was cancelled."
    qtbot.wait(1500)  # the abandoned attempt's late callbacks change nothing
    assert page.face.error.text() == "Face login was cancelled."
    assert page.face.hint.isHidden()


def test_no_attempts_left_opens_password_login_where_the_organisation_allows_it(
        qtbot, server_factory, face_video):
    server = server_factory(env=EXHAUSTED)
    set_password_login(server, True)
    page, _services = login_page(qtbot, server.url, face_video)
    qtbot.waitUntil(lambda: page.face.camera_box.currentData() == str(face_video),
                    timeout=15_000)
    fill_in(page)
    qtbot.mouseClick(page.face_button, LEFT)
    qtbot.waitUntil(lambda: page.id_number.isVisible(), timeout=60_000)
    assert "password" in page.password_error.text()
    assert page.face.review.isHidden()


def test_no_attempts_left_sends_a_photo_for_review_and_logs_in_once_approved(
        qtbot, server_factory, face_video):
    from zhishiyun_server.face.models import FaceReview

    server = server_factory(env=EXHAUSTED)
    set_password_login(server, False)
    page, services = login_page(qtbot, server.url, face_video)
    qtbot.waitUntil(lambda: page.face.camera_box.currentData() == str(face_video),
                    timeout=15_000)
    fill_in(page)
    qtbot.mouseClick(page.face_button, LEFT)
    review = page.face.review
    qtbot.waitUntil(review.isVisible, timeout=60_000)
    assert not page.password_tab.isVisible()
    assert page.face.error.isVisible() and "\n" not in page.face.error.text()
    assert page.face.hint.isHidden()  # one message, not the hint repeating it
    qtbot.waitUntil(lambda: page.face.last_frame is not None, timeout=15_000)
    qtbot.mouseClick(review.take_button, LEFT)
    assert review.send_button.isEnabled()
    qtbot.mouseClick(review.send_button, LEFT)
    qtbot.waitUntil(lambda: review.status == "pending", timeout=15_000)
    assert "Waiting for staff" in review.state.text()
    with server_db(server)() as db:
        row = db.scalar(select(FaceReview))
        assert row.photo_jpeg.startswith(b"\xff\xd8")  # the photo taken in the app
        row.status = "approved"
        db.commit()
    with qtbot.waitSignal(page.logged_in, timeout=15_000) as signal:
        pass
    assert signal.args[0].candidate.name == "张三"
    assert services.client.me().name == "张三"


