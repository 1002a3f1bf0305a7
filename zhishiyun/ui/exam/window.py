"""The exam window: full screen, from entry to the last upload.

Layout (Zhishiyun's exam screen): on the left the countdown and the papers (with answer
boxes for written exams); on the right the live camera picture, the candidate, the
countdown and 交卷 / 结束考试; at the bottom the support phone, 求助 and 返回主页.
Warnings (network, devices, focus, second monitor, full screen) appear as banners at the
top and never block the exam. Nothing slow runs on the UI thread: answer saves (fsynced) and
the finish go to one serial pool, in order; the papers and device lists to the pool of
long tasks; the finishing page's upload progress to the pool of short polls. The session's
callbacks arrive on the main thread through ``on_main``. Extra panels (the phone as second
camera) plug into the declared side-panel slot under the countdown (:meth:`add_side_panel`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from zhishiyun.exam.problems import describe, stuck_reason
from zhishiyun.exam.session import State
from zhishiyun.i18n import _
from zhishiyun.ui.errors import message_for
from zhishiyun.ui.exam.answers import AnswerPanelWidget
from zhishiyun.ui.exam.banners import BannerStackWidget
from zhishiyun.ui.exam.checklist import WrittenChecklistWidget
from zhishiyun.ui.exam.live import ExamLiveFeed, HelpDialog
from zhishiyun.ui.exam.pages import (
    DeviceConfirmWidget,
    FinishingWidget,
    WaitingWidget,
    clock_text,
)
from zhishiyun.ui.exam.papers import LoadedPaper, PaperViewWidget, question_ids
from zhishiyun.ui.exam.proctoring import EXAM_STATES, ProctoringMixin
from zhishiyun.ui.qt import (
    QGuiApplication,
    QHBoxLayout,
    QMessageBox,
    QScrollArea,
    QStackedWidget,
    Qt,
    QTimer,
    QVBoxLayout,
    QWidget,
    Signal,
)
from zhishiyun.ui.tasks import on_main, run_quick, run_task, serial_pool
from zhishiyun.ui.widgets import CardWidget, PreviewWidget, button, label
from zhishiyun_formats.receipt import answers_receipt

log = logging.getLogger(__name__)
TICK_MS = 250
#: How often the server's answer receipt is asked for again when it could not be read.
RECEIPT_RETRY_S = 10.0
#: Below this height (logical pixels) the side column shrinks its picture and QR code.
COMPACT_HEIGHT = 700


def load_papers(session: Any) -> list[LoadedPaper]:
    """Fetch the list and every paper's bytes (a failed paper keeps its error). Blocking."""
    loaded = []
    for paper in session.papers():
        try:
            loaded.append(LoadedPaper(paper, session.paper_content(paper)))
        except Exception as exc:  # noqa: BLE001 - one bad paper must not hide the others
            loaded.append(LoadedPaper(paper, error=message_for(exc)))
    return loaded


def _papers_and_answers(session: Any) -> tuple[list[LoadedPaper], dict[str, str]]:
    return load_papers(session), session.answers()


def ask_question(parent: QWidget, title: str, text: str) -> bool:
    """A yes/no confirmation (tests replace ``ExamWindow.ask``)."""
    reply = QMessageBox.question(parent, title, text,
                                 QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                 QMessageBox.StandardButton.No)
    return reply == QMessageBox.StandardButton.Yes


class ExamWindow(ProctoringMixin, QWidget):
    """The exam window for one :class:`~zhishiyun.exam.session.ExamSession`.

    Args:
        session: the session (entered by :meth:`start`, off the UI thread).
        support: support contacts (``support_phone``, ``support_qq``, ``support_email``).
        candidate_name: shown next to the camera picture.
        list_devices: returns ``(cameras, microphones)`` as ``(label, value)`` lists
            (interview device confirmation); blocking, run on a pool thread.

    Signals: ``left(str)`` when the candidate leaves (``done``, ``leave_pending`` or
    ``home``: the exam goes on in the background and can be re-entered).
    """

    left = Signal(str)

    def __init__(self, session: Any, *, support: dict | None = None, candidate_name: str = "",
                 list_devices: Callable[[], tuple[list, list]] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.support = support or {}
        self.list_devices = list_devices
        self.ask: Callable[[QWidget, str, str], bool] = ask_question
        self.papers_loaded = False
        self._loading = False
        self._full_screen_seen = False
        self._focus_lost = False
        self._polling = False
        self._upload_view: tuple[list, dict] = ([], {})
        self._writes = serial_pool("exam-writes")  # answer saves, then the finish, in order
        self.side_panels: list[QWidget] = []
        self.setObjectName("examWindow")
        self.setWindowTitle(session.exam_name or _("Exam"))
        self._build(candidate_name)
        self._relay = on_main(self._on_session_change)
        session.session_did_change.append(self._relay)
        app = QGuiApplication.instance()
        app.screenAdded.connect(self._on_screen_added)
        app.screenRemoved.connect(self._on_screen_removed)
        self.timer = QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._on_tick)
        self.live = ExamLiveFeed(self) if getattr(session, "client", None) else None

    # --- building -----------------------------------------------------------------------

    def _build(self, candidate_name: str) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(16, 12, 16, 12)
        top = QHBoxLayout()
        self.title = label(self.session.exam_name, "subtitle", name="examTitle")
        self.rec = label("● " + _("Recording now"), "tag", name="recIndicator")
        self.rec.setProperty("tone", "red")
        self.net = label(_("Online"), "tag", name="netIndicator")
        self.net.setProperty("tone", "green")
        top.addWidget(self.title)
        top.addStretch(1)
        top.addWidget(self.net)
        top.addWidget(self.rec)
        outer.addLayout(top)
        self.banners = BannerStackWidget()
        outer.addWidget(self.banners)
        body = QHBoxLayout()
        self.stack = QStackedWidget()
        self.entering = label(_("Entering the exam and starting the recording…"), "subtitle",
                              wrap=True, name="enteringText")
        self.entering.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.confirm = DeviceConfirmWidget()
        self.confirm.confirmed.connect(self._on_devices_confirmed)
        self.confirm.devices_chosen.connect(self._on_devices_chosen)
        self.waiting = WaitingWidget()
        if self.session.kind == "written":  # the manual's 考前确认 (interviews: 设备确认)
            checklist = WrittenChecklistWidget(candidate_name, self.session.exam_name or "",
                                               self._devices_text())
            checklist.confirmed.connect(
                lambda: self.session.record_event("written_checklist_confirmed", {}))
            self.waiting.add_checklist(checklist)
        self.exam_page = QWidget()
        exam_row = QHBoxLayout(self.exam_page)
        exam_row.setContentsMargins(0, 0, 0, 0)
        self.paper_view = PaperViewWidget()
        self.paper_view.refresh_requested.connect(self.load_papers)
        exam_row.addWidget(self.paper_view, 3)
        self.answers = AnswerPanelWidget(self.save_answer)
        if self.session.kind == "written":
            exam_row.addWidget(self.answers, 2)
        else:
            self.answers.hide()
        self.finishing = FinishingWidget()
        self.finishing.leave_requested.connect(self._on_leave_requested)
        self.finishing.retry_requested.connect(self._on_retry_uploads)
        for page in (self.entering, self.confirm, self.waiting, self.exam_page, self.finishing):
            self.stack.addWidget(page)
        body.addWidget(self.stack, 1)
        body.addWidget(self._build_side(candidate_name))
        outer.addLayout(body, 1)
        bottom = QHBoxLayout()
        phone = self.support.get("support_phone") or ""
        self.support_line = label(_("Support hotline: {phone}").format(phone=phone) if phone
                                  else "", "muted")
        self.help_button = button(_("Help"), name="helpButton")
        self.help_button.clicked.connect(self.show_help)
        self.home_button = button(_("Back to home"), "link", name="homeButton")
        self.home_button.clicked.connect(self._on_home_requested)
        bottom.addWidget(self.support_line)
        bottom.addWidget(self.help_button)
        bottom.addStretch(1)
        bottom.addWidget(self.home_button)
        outer.addLayout(bottom)

    def _build_side(self, candidate_name: str) -> QWidget:
        side = CardWidget(margins=14)
        side.setFixedWidth(300)
        # A short window (1366×768 at 150 % leaves 512 logical pixels) scrolls the column;
        # the hand-in buttons stay under it, always in view.
        column = QWidget()
        column.setObjectName("sideColumn")
        box = QVBoxLayout(column)
        box.setContentsMargins(0, 0, 0, 0)
        self.side_scroll = QScrollArea()
        self.side_scroll.setObjectName("sideScroll")
        self.side_scroll.setWidgetResizable(True)
        self.side_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.side_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.side_scroll.setWidget(column)
        self.side_scroll.setStyleSheet("QScrollArea, QWidget#sideColumn { background: "
                                       "transparent; }")  # the card's white shows through
        self.side_scroll.viewport().setAutoFillBackground(False)
        side.body.addWidget(self.side_scroll, 1)
        self.preview = PreviewWidget(_("Camera starting…"))
        self.preview.setObjectName("examPreview")
        self.preview.mirror = True  # self-view only: the recording is not mirrored
        self.preview.setMinimumSize(200, 110)
        self.preview.setMaximumHeight(200)
        box.addWidget(self.preview)
        box.addWidget(label(candidate_name, "subtitle", name="candidateName"))
        self.phase = label("", "muted", name="phaseLabel")
        box.addWidget(self.phase)
        self.countdown = label("--:--:--", "title", name="examCountdown")
        self.countdown.setStyleSheet("font-size: 32px;")
        box.addWidget(self.countdown)
        self.side_slot = QVBoxLayout()
        self.side_slot.setContentsMargins(0, 0, 0, 0)
        box.addLayout(self.side_slot)
        box.addStretch(1)
        self.submit_button = button(_("Submit answers"), "primary", name="submitButton")
        self.submit_button.clicked.connect(self._on_submit)
        self.submit_button.hide()  # shown once the exam has started (_show_state)
        self.end_button = button(_("End exam"), "danger", name="endButton")
        self.end_button.clicked.connect(self._on_end)
        self.end_button.hide()
        self.full_button = button(_("Back to full screen"), name="fullScreenButton")
        self.full_button.clicked.connect(self.go_full_screen)
        self.full_button.hide()
        for widget in (self.full_button, self.submit_button, self.end_button):
            side.body.addWidget(widget)
        return side

    def _devices_text(self) -> str:
        camera, mic = getattr(self.session, "camera", None), getattr(self.session, "microphone",
                                                                         None)
        if isinstance(camera, str) and ("/" in camera or "\\" in camera):
            camera = Path(camera).name  # a video file standing in for the camera
        return _("Recorded with: camera {camera}, microphone {microphone} (chosen in the "
                 "device test).").format(camera=camera if camera not in (None, "") else "—",
                                         microphone=mic or _("System default"))

    def add_side_panel(self, panel: QWidget) -> None:
        """Show ``panel`` in the side column under the countdown (e.g. the second camera)."""
        self.side_slot.addWidget(panel)
        self.side_panels.append(panel)
        self._fit_height()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        """Short screens get a smaller picture, countdown and phone QR code."""
        super().resizeEvent(event)
        self._fit_height()

    def _fit_height(self) -> None:
        compact = self.height() < COMPACT_HEIGHT
        self.preview.setMaximumHeight(120 if compact else 200)
        self.countdown.setStyleSheet("font-size: 24px;" if compact else "font-size: 32px;")
        for panel in self.side_panels:
            set_compact = getattr(panel, "set_compact", None)
            if set_compact is not None:
                set_compact(compact)

    # --- life cycle ---------------------------------------------------------------------

    def go_full_screen(self) -> None:
        """Cover the whole screen the window is on, and take the focus."""
        # Without a window manager (kiosk sessions, Xvfb) the full-screen state alone does not
        # resize the window: give it the screen's geometry first.
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is not None:
            self.setGeometry(screen.geometry())
        self.showFullScreen()
        self.raise_()
        self.activateWindow()

    def start(self) -> None:
        """Show full screen and enter the exam (creates the session, starts recording)."""
        self.go_full_screen()
        self.timer.start()
        self.stack.setCurrentWidget(self.entering)
        if self.session.state in (State.NEW,):
            run_task(self.session.enter, self._on_entered)
        else:
            self._show_state(self.session.state)
            if self.live is not None:
                self.live.start()

    def _on_entered(self, _result: Any, error: BaseException | None) -> None:
        if error is None and self.live is not None:
            self.live.start()  # organiser messages and 求助 replies as banners
        if error is not None:
            self.entering.setText(_("Could not enter the exam: {error}\nPress Back to home "
                                    "and try again.").format(error=message_for(error)))
            return
        if self.session.exam_name and not self.title.text():
            self.title.setText(self.session.exam_name)
        self._show_state(self.session.state)

    def _on_session_change(self, kind: str, value: Any) -> None:
        if kind == "state":
            self._show_state(value)
        elif kind == "network":
            self._on_network(bool(value))
        elif kind == "recorder":
            self._on_recorder_event(value)
        elif kind == "presence":
            self._on_presence_hint(value)
        elif kind == "banner":  # integrity watchers: (key, text or None)
            self._on_integrity_banner(*value)

    def _show_state(self, state: State) -> None:
        # One way to hand in, and only once the exam has started: 交卷 for written exams,
        # 结束考试 for interviews.
        started = state == State.IN_PROGRESS
        written = self.session.kind == "written"
        self.end_button.setVisible(started and not written)
        self.submit_button.setVisible(started and written)
        self.submit_button.setEnabled(started)
        ended = state in (State.FINISHING, State.DONE)
        self.home_button.setVisible(not ended)  # the finishing page has its own 返回主页
        for panel in self.side_panels if ended else ():  # no phone binding after the end
            panel.hide()
            stop = getattr(panel, "stop", None)
            if stop is not None:
                stop()
        self.phase.setText({
            State.DEVICE_CONFIRM: _("Until the start"), State.WAITING: _("Until the start"),
            State.IN_PROGRESS: _("Time left"), State.FINISHING: _("Uploading"),
            State.DONE: _("Finished")}.get(state, ""))
        if state == State.DEVICE_CONFIRM:
            self.stack.setCurrentWidget(self.confirm)
            self._fill_devices()
        elif state == State.WAITING:
            self.stack.setCurrentWidget(self.waiting)
        elif state == State.IN_PROGRESS:
            self.stack.setCurrentWidget(self.exam_page)
            if not self.papers_loaded:
                self.load_papers()
        elif state in (State.FINISHING, State.DONE):
            self.answers.save_now()
            self.answers.set_read_only(True)
            self.stack.setCurrentWidget(self.finishing)
            self.rec.setText(_("Recording stopped"))
            self.preview.show_placeholder(_("Recording stopped"))
            self.countdown.setText(clock_text(0))
            self.banners.clear_all()
            if self.session.finish_reason == "time_up":
                self.finishing.title.setText(_("Time is up: the exam has ended"))
            if written:
                self._show_receipt(state == State.DONE)
            self._update_finishing()

    # --- papers and answers -------------------------------------------------------------

    def load_papers(self) -> None:
        """Fetch the papers off the UI thread (again after a failure)."""
        if self._loading:
            return
        self._loading = True
        self.paper_view.show_message(_("Loading the papers…"))
        session = self.session
        run_task(lambda: _papers_and_answers(session), self._on_papers)

    def _on_papers(self, loaded: Any, error: BaseException | None) -> None:
        self._loading = False
        if error is not None:
            self.paper_view.show_message(_("The papers could not be loaded: {error}\nPress "
                                           "Refresh papers to try again.").format(
                error=message_for(error)))
            return
        papers, saved = loaded
        self.papers_loaded = all(not p.error for p in papers)
        self.paper_view.set_papers(papers)
        if self.session.kind == "written":
            self.answers.set_questions(question_ids(papers), saved)

    def save_answer(self, question_id: str, content: str) -> None:
        """Save an answer off the UI thread (fsynced locally, then queued), in typing order."""
        session = self.session
        run_task(lambda: session.save_answer(question_id, content), self._on_answer_saved,
                 self._writes)

    def _on_answer_saved(self, _version: Any, error: BaseException | None) -> None:
        if error is not None:
            self.banners.show_banner("answer", _("An answer could not be saved on this "
                                                 "computer: {error}").format(
                error=message_for(error)), "red")

    def _on_submit(self) -> None:
        self.answers.save_now()
        missing = self.answers.unanswered()
        text = (_("Questions without an answer: {list}.").format(
            list=_(", ").join(missing))  # zh_CN: 未作答：第 2、3、4 题。
                if missing else _("Every question has an answer."))
        if self.ask(self, _("Submit answers"), text + "\n" + _(
                "Your answers will be submitted to the organiser and the exam ends; you "
                "cannot change them afterwards. Submit now?")):
            self._submitted_at = datetime.now().strftime("%H:%M:%S")
            self._finish("candidate_ended")

    def _show_receipt(self, uploaded: bool) -> None:
        """答卷已提交 with the receipt code; once uploaded, the server's code for comparison."""
        code = answers_receipt(self.session.answers())
        at = getattr(self, "_submitted_at", "") or datetime.now().strftime("%H:%M:%S")
        self._submitted_at = at
        self.finishing.show_receipt(at, code, getattr(self, "_server_receipt", None))
        now = time.monotonic()
        if not uploaded or now - getattr(self, "_receipt_asked", -60.0) < RECEIPT_RETRY_S:
            return
        self._receipt_asked = now
        session = self.session

        def server_code() -> str:
            return session.client.finish(session.session_id, session.finish_reason
                                         ).answers_receipt

        def got(reply: Any, error: BaseException | None) -> None:
            if error is None and reply:
                self._server_receipt = reply
                self.finishing.show_receipt(at, code, reply)

        run_quick(server_code, got)

    def _on_end(self) -> None:
        self.answers.save_now()
        if self.ask(self, _("End exam"), _("Do you really want to end the exam now? You "
                                           "cannot return to it afterwards.")):
            self._finish("candidate_ended")

    def _finish(self, reason: str) -> None:
        self.end_button.setEnabled(False)
        self.submit_button.setEnabled(False)
        session = self.session
        run_task(lambda: session.finish(reason), self._on_finished, self._writes)

    def _on_finished(self, _result: Any, error: BaseException | None) -> None:
        if error is not None:
            self.banners.show_banner("finish", message_for(error), "red")

    # --- devices (interviews) -----------------------------------------------------------

    def _fill_devices(self) -> None:
        if self.list_devices is None:
            return
        run_task(self.list_devices, self._on_devices_listed)

    def _on_devices_listed(self, result: Any, error: BaseException | None) -> None:
        if error is not None:
            self.confirm.echo_result.setText(message_for(error))
            return
        cameras, mics = result
        self.confirm.set_devices(cameras, mics, self.session.camera, self.session.microphone)

    def _on_devices_chosen(self, camera: Any, microphone: Any) -> None:
        session = self.session
        self.preview.show_placeholder(_("Switching the camera…"))
        run_task(lambda: session.switch_devices(camera, microphone), self._on_finished)

    def _on_devices_confirmed(self) -> None:
        self.session.confirm_devices()

    # --- the tick -----------------------------------------------------------------------

    def _on_tick(self) -> None:
        session, state = self.session, self.session.state
        if state == State.DEVICE_CONFIRM:
            self.countdown.setText(clock_text(session.seconds_to_start()))
        elif state == State.WAITING:
            start = session.starts_at.astimezone().strftime("%H:%M:%S") \
                if session.starts_at else ""
            self.waiting.update_time(session.seconds_to_start(), start)
            self.countdown.setText(clock_text(session.seconds_to_start()))
        elif state == State.IN_PROGRESS:
            self.countdown.setText(clock_text(session.seconds_left()))
        elif state in (State.FINISHING, State.DONE):
            self.countdown.setText(clock_text(0))
            self._update_finishing()
            if state == State.DONE and session.kind == "written" and \
                    getattr(self, "_server_receipt", None) is None:
                self._show_receipt(True)
        recorder = getattr(session, "recorder", None)
        if recorder is not None and recorder.running and not session.finish_reason:
            frame = recorder.latest_frame("camera")
            if frame is not None and frame.ndim == 3:
                rgb = frame[:, :, 2::-1].copy()  # BGR(A) → RGB
                self.preview.show_frame(rgb)
                if state == State.DEVICE_CONFIRM:
                    self.confirm.preview.show_frame(rgb)
                elif state == State.WAITING and self.waiting.checklist is not None:
                    self.waiting.checklist.preview.show_frame(rgb)
            rms, peak = recorder.audio_level()
            self.confirm.level.setValue(int(min(1.0, peak) * 100))

    def _update_finishing(self) -> None:
        """Show the last upload progress; read the next one from the queue off the UI thread."""
        items, totals = self._upload_view
        self.finishing.update_uploads(items, totals, self.session.state == State.DONE,
                                      self.session.online)
        if self._polling:
            return
        self._polling = True
        session = self.session

        def read() -> tuple[list, dict, str | None]:
            reason = stuck_reason(session.queue.items(session.session_id))
            return session.segment_items(), session.upload_totals(), \
                describe(reason) if reason else None

        run_quick(read, self._on_upload_view)

    def _on_upload_view(self, view: Any, error: BaseException | None) -> None:
        self._polling = False
        if error is None:
            items, totals, problem = view
            self._upload_view = (items, totals)
            self.finishing.update_uploads(items, totals, self.session.state == State.DONE,
                                          self.session.online)
            if problem:  # a reason that keeps coming back, with what to do
                self.finishing.summary.setText(problem)

    # --- leaving ------------------------------------------------------------------------

    def _on_retry_uploads(self) -> None:
        session = self.session
        run_quick(session.retry_uploads)

    def _on_leave_requested(self) -> None:
        if self.finishing.done:
            self._leave("done")
        elif self.ask(self, _("Uploads are not finished"), _(
                "Some recordings are not uploaded yet. If you leave now, they keep uploading "
                "while Zhishiyun stays open, and continue the next time you start it. If they "
                "never arrive, the organiser may not accept your exam. Leave anyway?")):
            self._leave("leave_pending")

    def _on_home_requested(self) -> None:
        if self.session.state in EXAM_STATES:
            if not self.ask(self, _("Back to home"), _(
                    "Only use this if you must deal with a problem on your computer. The exam "
                    "and the recording go on; return with Enter exam. Go back to the home "
                    "page?")):
                return
            self.session.record_event("left_to_home", {})
            self._leave("home")
        elif self.session.state == State.NEW:
            self._leave("home")
        else:
            self._on_leave_requested()

    def dispose(self) -> None:
        """Close for good when the app quits (no question; session listeners removed)."""
        self.timer.stop()
        for panel in self.side_panels:
            stop = getattr(panel, "stop", None)
            if stop is not None:
                stop()
        self._leaving = True
        self.close()
        self.deleteLater()

    def _leave(self, how: str) -> None:
        self.timer.stop()
        if self.live is not None:
            self.live.stop()
        self._leaving = True
        self.close()
        self.left.emit(how)

    def show_help(self) -> None:
        """求助: the support contacts, and a help request to the organisation."""
        rows = [(_("Phone"), self.support.get("support_phone")),
                (_("QQ"), self.support.get("support_qq")),
                (_("Email"), self.support.get("support_email")),
                (_("Hours"), self.support.get("support_hours"))]
        text = "\n".join(_("{name}: {value}").format(name=name, value=value)
                          for name, value in rows if value) or _(
            "No support contacts were published by the exam server.")
        box = HelpDialog(text, getattr(self.session, "client", None),
                         self.session.session_id, self.live, parent=self)
        box.open()
        self.help_box = box

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        """Closing mid-exam is refused; after the end it asks while uploads are pending."""
        if getattr(self, "_leaving", False):
            self.session.session_did_change[:] = [c for c in self.session.session_did_change
                                                  if c is not self._relay]
            app = QGuiApplication.instance()
            for signal, slot in ((app.screenAdded, self._on_screen_added),
                                 (app.screenRemoved, self._on_screen_removed)):
                try:
                    signal.disconnect(slot)
                except (RuntimeError, TypeError):
                    pass
            super().closeEvent(event)
            return
        event.ignore()
        if self.session.state in (State.FINISHING, State.DONE):
            self._on_leave_requested()
        elif self.session.state != State.NEW:
            self.banners.show_banner("close", _("The exam window cannot be closed during the "
                                                "exam. Use End exam to finish."), "orange")
        else:
            self._leave("home")

