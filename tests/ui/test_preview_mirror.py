"""Self-views are mirrored like a looking-glass; played-back recordings and photos are not."""

from __future__ import annotations

import numpy as np

from zhishiyun.ui.widgets import PreviewWidget


def left_colour(preview) -> tuple[int, int, int]:
    image = preview.pixmap().toImage()
    colour = image.pixelColor(image.width() // 8, image.height() // 2)
    return colour.red(), colour.green(), colour.blue()


def frame() -> np.ndarray:
    picture = np.zeros((120, 160, 3), np.uint8)
    picture[:, :80] = (255, 0, 0)  # left half red
    picture[:, 80:] = (0, 0, 255)  # right half blue
    return picture


def test_a_mirrored_preview_shows_the_left_on_the_right_unless_told_otherwise(qtbot):
    preview = PreviewWidget()
    qtbot.addWidget(preview)
    preview.resize(320, 240)
    preview.show()
    preview.show_frame(frame())
    assert left_colour(preview) == (255, 0, 0)
    preview.mirror = True
    preview.show_frame(frame())
    assert left_colour(preview) == (0, 0, 255), "a self-view is mirrored"
    preview.show_frame(frame(), mirror=False)
    assert left_colour(preview) == (255, 0, 0), "a recording or photo is shown as it is"


def test_the_exam_and_login_self_views_are_mirrored(qtbot, demo_server):
    from zhishiyun.ui.login_page import LoginWidget

    from .conftest import make_services

    services = make_services(demo_server.url)
    page = LoginWidget(services.client, {"face_login": True, "password_login": True},
                       face_login=services.face_login)
    qtbot.addWidget(page)
    assert page.face.preview.mirror
