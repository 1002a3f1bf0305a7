"""人工审核 after the face logins the server allows have failed.

The candidate holds the ID card next to their face, takes a photo with the camera shown
in the login form, and sends it; the status is polled until staff approve (the poll then
carries the login) or reject it (with their note; a new photo may be sent).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from zhishiyun.i18n import _
from zhishiyun.ui.errors import message_for
from zhishiyun.ui.qt import QHBoxLayout, QTimer, QVBoxLayout, QWidget, Signal
from zhishiyun.ui.style import set_variant
from zhishiyun.ui.tasks import run_quick, run_task
from zhishiyun.ui.widgets import button, label

log = logging.getLogger(__name__)
POLL_MS = 3000
#: Largest side of the photo sent (the ID card's text must stay readable).
PHOTO_MAX_SIDE = 1280


def photo_jpeg(rgb: Any) -> bytes:
    """JPEG bytes of an RGB frame, scaled down to :data:`PHOTO_MAX_SIDE`."""
    import cv2

    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    side = max(bgr.shape[:2])
    if side > PHOTO_MAX_SIDE:
        scale = PHOTO_MAX_SIDE / side
        bgr = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise ValueError("the photo could not be encoded")
    return data.tobytes()


class FaceReviewWidget(QWidget):
    """Take, send and follow the manual-review photo; emits ``logged_in(LoginResult)``.

    Args:
        review_client: has ``submit_review(name, id_number, jpeg)`` → ``(id, secret)`` and
            ``review_status(id, secret)`` → ``(status, login)`` (blocking).
        latest_frame: returns the newest camera picture (RGB array) or None.
        show_photo: shows the taken photo (frozen) in the form's preview, or None to go back
            to the live picture.
    """

    logged_in = Signal(object)

    def __init__(self, review_client: Any, latest_frame: Callable[[], Any],
                 show_photo: Callable[[Any], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("faceReview")
        self._client = review_client
        self._latest_frame = latest_frame
        self._show_photo = show_photo
        self._photo: Any = None
        self._identity = ("", "")
        self.review: tuple[int, str] | None = None
        self.status = ""
        self._polling = False
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(8)
        box.addWidget(label(_("Manual review"), "subtitle"))
        self.intro = label(_("Hold your ID card next to your face, photo side to the camera, "
                             "and take a photo. Staff compare it with your record; this page "
                             "logs you in as soon as they approve."), "muted", wrap=True,
                           name="reviewIntro")
        box.addWidget(self.intro)
        row = QHBoxLayout()
        self.take_button = button(_("Take photo"), name="reviewTake")
        self.take_button.clicked.connect(self.take_photo)
        self.send_button = button(_("Send for review"), "primary", name="reviewSend")
        self.send_button.setEnabled(False)
        self.send_button.clicked.connect(self.send)
        row.addWidget(self.take_button)
        row.addWidget(self.send_button)
        box.addLayout(row)
        self.state = label("", "muted", wrap=True, selectable=True, name="reviewState")
        self.state.hide()
        box.addWidget(self.state)
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self._poll)

    def start(self, name: str, id_number: str) -> None:
        """Offer the review for this identity (the one face login failed for)."""
        self._identity = (name.strip(), id_number.strip().upper())
        self.show()

    def take_photo(self) -> None:
        """Freeze the current camera picture as the photo (again: a new photo)."""
        if self._photo is not None and self.review is None:
            self._photo = None
            self._show_photo(None)
            self.take_button.setText(_("Take photo"))
            self.send_button.setEnabled(False)
            return
        frame = self._latest_frame()
        if frame is None:
            self._say(_("The camera sends no picture yet. Wait a moment and try again."),
                      "error")
            return
        self._photo = frame.copy()
        self._show_photo(self._photo)
        self.take_button.setText(_("Take again"))
        self.send_button.setEnabled(True)
        self._say(_("Check that your face and the ID card are sharp, then press Send for "
                    "review."), "muted")

    def send(self) -> None:
        """Send the photo (off the UI thread)."""
        if self._photo is None:
            return
        self.send_button.setEnabled(False)
        self.take_button.setEnabled(False)
        self._say(_("Sending the photo…"), "muted")
        client, (name, id_number), photo = self._client, self._identity, self._photo
        run_task(lambda: client.submit_review(name, id_number, photo_jpeg(photo)),
                 self._on_sent)

    def _on_sent(self, reply: Any, error: BaseException | None) -> None:
        if error is not None:
            self.send_button.setEnabled(True)
            self.take_button.setEnabled(True)
            self._say(message_for(error), "error")
            return
        self.review = (int(reply[0]), str(reply[1]))
        self.sent_at = datetime.now().strftime("%H:%M")
        self._show_status("pending", "")
        self.timer.start()

    def _poll(self) -> None:
        if self._polling or self.review is None:
            return
        self._polling = True
        client, (review_id, secret) = self._client, self.review

        def status() -> tuple[str, Any, str]:
            state, login = client.review_status(review_id, secret)
            return state, login, ""

        run_quick(status, self._on_status)

    def _on_status(self, reply: Any, error: BaseException | None) -> None:
        self._polling = False
        if error is not None:  # offline for a moment: keep polling, say so
            log.info("review status not read: %s", error)
            self._say(_("Photo sent at {time}; the status could not be read just now "
                        "({error}). Still checking…").format(time=self.sent_at,
                                                              error=message_for(error)),
                      "muted")
            return
        state, login, note = reply
        self._show_status(state, note)
        if state == "approved" and login is not None:
            self.timer.stop()
            self.logged_in.emit(login)
        elif state != "pending":
            self.timer.stop()

    def _show_status(self, state: str, note: str) -> None:
        self.status = state
        if state == "pending":
            self._say(_("Photo sent at {time}. Waiting for staff to check it — keep this "
                        "window open; it logs you in by itself.").format(time=self.sent_at),
                      "muted")
        elif state == "approved":
            self._say(_("Approved: logging you in…"), "muted")
        else:
            self._say(_("Not approved{note}. Call the service phone, or take a new photo "
                        "and send it again.").format(note=f"（{note}）" if note else ""),
                      "error")
            self.review = None
            self._photo = None
            self._show_photo(None)
            self.take_button.setEnabled(True)
            self.take_button.setText(_("Take photo"))

    def _say(self, text: str, role: str) -> None:
        self.state.setText(text)
        set_variant(self.state, "role", role)
        self.state.setVisible(bool(text))

    def stop(self) -> None:
        """Stop polling."""
        self.timer.stop()
