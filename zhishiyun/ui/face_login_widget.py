"""The face-login form: name, ID number, camera choice, live preview with guidance.

The engine is :class:`zhishiyun.auth.face_session.FaceLoginSession`; its callbacks fire on
the session's own thread and reach this widget through :func:`on_main`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from zhishiyun.i18n import _
from zhishiyun.ui.errors import message_for
from zhishiyun.ui.live_preview import LivePreview
from zhishiyun.ui.model import get
from zhishiyun.ui.qt import (
    QComboBox,
    QHBoxLayout,
    QLineEdit,
    QProgressBar,
    QSizePolicy,
    QTimer,
    QVBoxLayout,
    QWidget,
    Signal,
)
from zhishiyun.ui.style import set_variant
from zhishiyun.ui.tasks import on_main, run_task
from zhishiyun.ui.widgets import PreviewWidget, button, label

log = logging.getLogger(__name__)

#: ``start(name, id_number, camera, on_frame=, on_hint=, on_progress=, on_result=)`` starts a
#: session (raising at once for a bad ID number) and returns it (it has ``cancel()``).
FaceLoginFactory = Callable[..., Any]


def _list_cameras() -> list[Any]:
    from zhishiyun.capture.devices import list_cameras

    return list_cameras(probe=False)


def _with_box(frame: Any, box: Any) -> Any:
    """RGB copy of a BGR frame with the face box drawn (green)."""
    import cv2

    rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    if box is not None:
        x, y, w, h = (int(v) for v in box)
        cv2.rectangle(rgb, (x, y), (x + w, y + h), (20, 200, 90), 3)
    return rgb


class FaceLoginWidget(QWidget):
    """Face login; emits ``logged_in(LoginResult)``. Unavailable states are explained.

    While an attempt runs, the bar keeps moving (also while the server verifies) and 取消
    stops it. ``fallback_offered(kind)`` fires when the server allows no more attempts
    (``password`` or ``manual_review``); for the review, :meth:`offer_review` shows the
    photo panel (``review_client`` sends it).
    """

    fallback_offered = Signal(str)

    logged_in = Signal(object)

    def __init__(self, face_login: FaceLoginFactory | None, available_on_server: bool,
                 preferred_camera: str = "", review_client: Any = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._factory = face_login
        self._review_client = review_client
        self.last_frame: Any = None
        self._frozen: Any = None  # the manual-review photo, shown instead of the live picture
        self._attempt = 0  # results of an abandoned (cancelled) attempt are ignored
        self._busy_since = 0.0
        self._preferred_camera = preferred_camera
        self._live: LivePreview | None = None
        self._shown = False
        self._available = available_on_server and face_login is not None
        self._session: Any = None
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(10)
        self.name = QLineEdit()
        self.name.setObjectName("faceName")
        self.name.setPlaceholderText(_("Name"))
        self.id_number = QLineEdit()
        self.id_number.setObjectName("faceId")
        self.id_number.setPlaceholderText(_("ID number"))
        self.id_number.setMaxLength(18)
        camera_row = QHBoxLayout()
        camera_row.addWidget(label(_("Camera"), "muted"))
        self.camera_box = QComboBox()
        self.camera_box.setObjectName("faceCamera")
        camera_row.addWidget(self.camera_box, 1)
        self.preview = PreviewWidget(_("The camera picture appears here"))
        # Shrinks on short windows (a laptop at 150 %) so the button stays in view.
        self.preview.setMinimumHeight(120)
        self.preview.setMaximumHeight(220)
        self.preview.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.preview.setMargin(16)
        self.preview.mirror = True  # a self-view; the frames sent are not mirrored
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.hide()
        self.hint = label("", "muted", wrap=True, name="faceHint")
        self.hint.hide()
        self.error = label("", "error", wrap=True, name="faceError")
        self.error.hide()
        self.button = button(_("Face login"), "primary", name="faceLogin")
        self.button.clicked.connect(self._on_login_clicked)
        self.cancel_button = button(_("Cancel"), name="faceCancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.hide()
        self._creep = QTimer(self)  # the bar moves while the server verifies
        self._creep.setInterval(250)
        self._creep.timeout.connect(self._on_creep)
        for widget in (self.name, self.id_number):
            box.addWidget(widget)
        box.addLayout(camera_row)
        for widget in (self.preview, self.progress, self.hint, self.error):
            box.addWidget(widget)
        buttons = QHBoxLayout()
        buttons.addWidget(self.button, 1)
        buttons.addWidget(self.cancel_button)
        box.addLayout(buttons)
        from zhishiyun.ui.face_review_widget import FaceReviewWidget

        self.review = FaceReviewWidget(review_client, lambda: self.last_frame,
                                       self._show_photo)
        self.review.logged_in.connect(self.logged_in.emit)
        self.review.hide()
        box.addWidget(self.review)
        self.note = label("", "error", wrap=True, name="faceUnavailable")
        if not available_on_server:
            self.note.setText(_("Face login is not available on this server. Use password "
                                "login or call the service phone."))
        elif face_login is None:
            self.note.setText(_("Face login is not available in this version of the client "
                                "yet. Use password login if the organiser has opened it."))
        self.note.setVisible(bool(self.note.text()))
        if self.note.text():
            self.note.setMinimumHeight(self.note.heightForWidth(380))
        box.insertWidget(box.indexOf(self.preview) + 1, self.note)
        run_task(_list_cameras, self._on_cameras_listed)
        self.camera_box.currentIndexChanged.connect(lambda _i: self._start_live())

    @property
    def available(self) -> bool:
        """Whether face login can be used here."""
        return self._available

    def set_allowed(self, allowed: bool) -> None:
        """Enable the button (consent given) when face login is available and idle."""
        self.button.setEnabled(allowed and self._available and self._session is None)

    def _on_cameras_listed(self, cameras: Any, error: BaseException | None) -> None:
        self.camera_box.blockSignals(True)
        self.camera_box.clear()
        for camera in cameras or []:
            self.camera_box.addItem(get(camera, "name") or _("Camera {n}").format(
                n=get(camera, "index")), get(camera, "index"))
        if self._preferred_camera and Path(self._preferred_camera).is_file():
            self.camera_box.addItem(Path(self._preferred_camera).name, self._preferred_camera)
            self.camera_box.setCurrentIndex(self.camera_box.count() - 1)
        self.camera_box.blockSignals(False)
        if self.camera_box.count() == 0:
            self.camera_box.addItem(_("No camera found"), None)
            if self._available:
                self.preview.show_placeholder(_("No camera was found. Connect a camera and "
                                                "restart, or use password login if it is "
                                                "open."))
        self._start_live()

    # --- live picture before the attempt -------------------------------------------------

    def activate(self) -> None:
        """The form is shown: show the camera picture."""
        self._shown = True
        self._start_live()

    def deactivate(self) -> None:
        """The form is hidden: release the camera."""
        self._shown = False
        self._stop_live()

    def _start_live(self) -> None:
        self._stop_live()
        camera = self.camera_box.currentData()
        if not self._shown or self._session is not None or camera is None:
            return
        self._live = LivePreview(camera, "none", on_main(self._on_live_frame),
                                 lambda _level: None, on_main(self._show_error))
        self._live.start()

    def _stop_live(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def _on_live_frame(self, frame: Any) -> None:
        if self._live is not None:
            self.last_frame = frame
            if self._frozen is None:
                self.preview.show_frame(frame)
            self.preview.setToolTip("" if self._available else self.unavailable_text())

    def unavailable_text(self) -> str:
        """Why face login cannot be used here ("" when it can)."""
        if self._available:
            return ""
        return self.note.text()

    def _on_login_clicked(self) -> None:
        if not self._available:
            return
        camera = self.camera_box.currentData()
        self._stop_live()  # the session opens the camera itself
        self._attempt += 1
        guarded = self._guarded
        try:
            self._session = self._factory(
                self.name.text(), self.id_number.text(), 0 if camera is None else camera,
                on_frame=on_main(guarded(self._on_frame)),
                on_hint=on_main(guarded(self._on_hint)),
                on_progress=on_main(guarded(self._on_progress)),
                on_result=on_main(guarded(self._on_result)))
        except Exception as exc:  # noqa: BLE001 - a bad ID number or name: shown inline
            self._show_error(message_for(exc))
            self._start_live()
            return
        self._show_error("")
        self.button.setEnabled(False)
        self.button.setText(_("Recognising…"))
        self.progress.setValue(0)
        self.progress.setFormat("%p%")
        self.progress.show()
        self.cancel_button.show()
        self._busy_since = time.monotonic()
        self._creep.start()

    def _guarded(self, callback: Callable[..., None]) -> Callable[..., None]:
        """``callback`` for this attempt only: a cancelled attempt's late calls are dropped."""
        attempt = self._attempt

        def call(*args: Any) -> None:
            if attempt == self._attempt:
                callback(*args)

        return call

    def cancel(self) -> None:
        """取消: stop the running attempt; its late result is ignored."""
        session, self._session = self._session, None
        self._attempt += 1
        if session is not None:
            run_task(session.cancel)
        self._end_attempt()
        self._show_error(_("Face login was cancelled."))

    def _end_attempt(self) -> None:
        self._creep.stop()
        self.progress.hide()
        self.hint.hide()
        self.cancel_button.hide()
        self.button.setText(_("Face login"))
        self.button.setEnabled(True)
        self._start_live()

    def _on_creep(self) -> None:
        """Past the capture, move towards 99 % while the server answers, with the seconds."""
        if 90 <= self.progress.value() < 99:
            self.progress.setValue(self.progress.value() + 1)
        waited = int(time.monotonic() - self._busy_since)
        self.progress.setFormat(_("%p% · {n} s").format(n=waited))

    def _on_frame(self, frame: Any, box: Any = None) -> None:
        if self._session is not None:
            self.preview.show_frame(_with_box(frame, box))

    def _on_hint(self, text: str, _code: str = "") -> None:
        if self._session is None:
            return
        self.hint.setText(text)
        self.hint.setVisible(bool(text))

    def _on_progress(self, fraction: float, text: str = "") -> None:
        if self._session is None:
            return
        self.progress.setValue(max(self.progress.value(),
                                   int(max(0.0, min(1.0, fraction)) * 100)))
        if text:
            self._on_hint(text)

    def _on_result(self, result: Any) -> None:
        if self._session is None:  # cancelled meanwhile
            return
        self._session = None
        self._end_attempt()
        if get(result, "ok") and get(result, "login") is not None:
            self.logged_in.emit(result.login)
            return
        if get(result, "cancelled"):
            self._show_error(_("Face login was cancelled."))
            return
        error = get(result, "error")
        # One message: the error's own text already says what to do next.
        parts = [message_for(error) if error is not None else _("Face login failed.")]
        left = get(result, "attempts_left")
        fallback = get(result, "fallback") or getattr(error, "fallback", None)
        if left and not fallback:
            parts.append(_("Attempts left: {n}.").format(n=left))
        self._show_error(" ".join(p for p in parts if p))
        if fallback in ("password", "manual_review"):
            self.fallback_offered.emit(fallback)

    def offer_review(self) -> None:
        """Show the manual-review photo panel for the identity typed in."""
        if self._review_client is None:
            return
        self.review.start(self.name.text(), self.id_number.text())
        self.button.setEnabled(False)

    def _show_photo(self, photo: Any) -> None:
        self._frozen = photo
        if photo is not None:
            self.preview.show_frame(photo, mirror=False)  # the ID card reads the right way

    def _show_error(self, text: str) -> None:
        self.error.setText(text)
        set_variant(self.error, "role", "error")
        self.error.setVisible(bool(text))

    def stop(self) -> None:
        """Cancel a running attempt and release the camera."""
        self.review.stop()
        self.deactivate()
        if self._session is not None:
            try:
                self._session.cancel()
            except Exception:  # noqa: BLE001 - closing anyway
                log.exception("face login did not cancel cleanly")
            self._session = None
