"""The exam window: full screen, from entry to the last upload.

A written exam opens on 考前确认 (:mod:`.confirmation`): nothing is recorded until the
candidate confirms who they are, the camera's picture and the devices, and the rules.
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
from collections.abc import Callable
from typing import Any

from zhishiyun.exam.session import State
from zhishiyun.i18n import _
from zhishiyun.ui.errors import message_for
from zhishiyun.ui.exam.answers import AnswerPanelWidget
from zhishiyun.ui.exam.banners import BannerStackWidget
from zhishiyun.ui.exam.confirmation import WrittenConfirmWidget
from zhishiyun.ui.exam.device_steps import DeviceStepsMixin
from zhishiyun.ui.exam.finish_flow import FinishFlowMixin
from zhishiyun.ui.exam.leaving import LeavingMixin
from zhishiyun.ui.exam.live import ExamLiveFeed, HelpDialog
from zhishiyun.ui.exam.pages import (
    DeviceConfirmWidget,
    FinishingWidget,
    WaitingWidget,
    clock_text,
)
from zhishiyun.ui.exam.papers import LoadedPaper, PaperViewWidget, question_ids
from zhishiyun.ui.exam.proctoring import ProctoringMixin
from zhishiyun.ui.exam.side_column import SideColumnMixin
from zhishiyun.ui.qt import (
    QGuiApplication,
    QHBoxLayout,
    QMessageBox,
    QStackedWidget,
    Qt,
    QTimer,
    QVBoxLayout,
    QWidget,
    Signal,
)
from zhishiyun.ui.tasks import on_main, run_task, serial_pool
from zhishiyun.ui.widgets import button, label, retone

log = logging.getLogger(__name__)
TICK_MS = 250


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


class ExamWindow(ProctoringMixin, DeviceStepsMixin, FinishFlowMixin, LeavingMixin,
                 SideColumnMixin, QWidget):
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
        self.written: WrittenConfirmWidget | None = None
        if self.session.kind == "written":  # the manual's 考前确认 (interviews: 设备确认)
            self.written = WrittenConfirmWidget(candidate_name, self.session.exam_name or "")
            self.written.devices_chosen.connect(self._on_written_devices_chosen)
            self.written.confirmed.connect(self._on_written_confirmed)
        self.waiting = WaitingWidget()
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
        for page in (self.entering, self.written, self.confirm, self.waiting, self.exam_page,
                     self.finishing):
            if page is not None:
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
            session = self.session  # a written exam stops at 考前确认, recording nothing
            run_task(lambda: session.enter(confirm_first=True), self._on_entered)
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
        confirming = state == State.CONFIRM
        if not confirming:
            self._release_confirm_devices()  # confirmed, or the time ended the exam
        if not ended:
            retone(self.rec, _("Not recording yet") if confirming else "● " + _(
                "Recording now"), "gray" if confirming else "red")
        self.phase.setText({
            State.CONFIRM: _("Until the start"),
            State.DEVICE_CONFIRM: _("Until the start"), State.WAITING: _("Until the start"),
            State.IN_PROGRESS: _("Time left"), State.FINISHING: _("Uploading"),
            State.DONE: _("Finished")}.get(state, ""))
        if confirming and self.written is not None:
            self.stack.setCurrentWidget(self.written)
            self._fill_devices()
        elif state == State.DEVICE_CONFIRM:
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

    # --- the tick -----------------------------------------------------------------------

    def _on_tick(self) -> None:
        session, state = self.session, self.session.state
        if state in (State.CONFIRM, State.DEVICE_CONFIRM):
            # confirming after the start: the exam's own time is running out meanwhile
            started = session.seconds_to_start() <= 0
            self.phase.setText(_("Time left") if started else _("Until the start"))
            self.countdown.setText(clock_text(session.seconds_left() if started
                                              else session.seconds_to_start()))
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
            rms, peak = recorder.audio_level()
            self.confirm.level.setValue(int(min(1.0, peak) * 100))

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
