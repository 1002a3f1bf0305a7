"""Start-up: the system checks appearing one by one, retry, update, then "enter the system"."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from zhishiyun.i18n import _
from zhishiyun.ui.errors import message_for
from zhishiyun.ui.qt import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QMessageBox,
    QProgressBar,
    QScrollArea,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)
from zhishiyun.ui.style import set_variant
from zhishiyun.ui.tasks import on_main, run_task
from zhishiyun.ui.widgets import CardWidget, button, label, retone, tag

log = logging.getLogger(__name__)

#: ``run_checks(on_result, only)`` runs the checks (blocking, on a worker thread), calling
#: ``on_result(result)`` from that thread for each result as it is known.
RunChecks = Callable[[Callable[[Any], None], Sequence[str] | None], Any]
#: ``update_now(cancel_event, progress(done, total))``: check, download, verify and start the
#: installer (blocking, on a worker thread); raises with a candidate-readable message.
UpdateNow = Callable[[threading.Event, Callable[[int, int], None]], Any]

_TONES = {"pass": "green", "warn": "orange", "fail": "red", "skip": "gray", "running": ""}


def check_title(check_id: str) -> str:
    """The translated name of a check."""
    titles = {
        "server": _("Server connection"), "version": _("Software version"),
        "clock": _("Time calibration"), "disk": _("Disk space"), "memory": _("Memory"),
        "os": _("Operating system"), "camera": _("Camera"), "microphone": _("Microphone"),
        "display": _("Displays"), "processes": _("Prohibited software"),
        "bandwidth": _("Network bandwidth"),
    }
    return titles.get(check_id, check_id)


def status_text(status: str) -> str:
    """The translated status word."""
    return {"pass": _("Passed"), "warn": _("Warning"), "fail": _("Failed"),
            "skip": _("Skipped"), "running": _("Checking…")}.get(status, status)


class CheckRowWidget(CardWidget):
    """One check: title, status tag, message, and on failure the fix and a retry button."""

    retry_requested = Signal(str)
    update_requested = Signal(str)

    def __init__(self, check_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent, margins=14)
        self.body.setSpacing(4)
        self.check_id = check_id
        self.setObjectName(f"check_{check_id}")
        self.result: Any = None
        top = QHBoxLayout()
        self.title = label(check_title(check_id), "subtitle")
        self.state = tag(status_text("running"))
        top.addWidget(self.title)
        top.addWidget(self.state)
        top.addStretch(1)
        self.update_button = button(_("Update now"), "primary", name=f"update_{check_id}")
        self.update_button.hide()
        self.update_button.clicked.connect(lambda: self.update_requested.emit(self.check_id))
        self.skip_button = button(_("Skip this update"), name=f"skip_{check_id}")
        self.skip_button.hide()
        self.skip_button.clicked.connect(self._on_skip_clicked)
        self.retry_button = button(_("Retry"))
        self.retry_button.setObjectName(f"retry_{check_id}")
        self.retry_button.hide()
        self.retry_button.clicked.connect(lambda: self.retry_requested.emit(self.check_id))
        top.addWidget(self.skip_button)
        top.addWidget(self.update_button)
        top.addWidget(self.retry_button)
        self.body.addLayout(top)
        self.message = label("", "muted", wrap=True, selectable=True)
        self.fix = label("", "error", wrap=True, selectable=True)
        self.fix.hide()
        self.progress = QProgressBar()
        self.progress.hide()
        self.body.addWidget(self.message)
        self.body.addWidget(self.fix)
        self.body.addWidget(self.progress)

    def set_running(self) -> None:
        """Show the check as in progress again (retry)."""
        self.result = None
        retone(self.state, status_text("running"), "")
        self.retry_button.hide()
        self.update_button.hide()
        self.skip_button.hide()
        self.progress.hide()
        self.fix.hide()
        self.message.setText("")

    def set_result(self, result: Any) -> None:
        """Show a finished result."""
        self.result = result
        self.title.setText(getattr(result, "title", "") or check_title(self.check_id))
        status = str(result.status)
        retone(self.state, status_text(status), _TONES.get(status, ""))
        self.message.setText(result.message)
        fix = getattr(result, "fix", "") or ""
        self.fix.setText(_("How to fix: {fix}").format(fix=fix) if fix else "")
        self.fix.setVisible(bool(fix) and status in ("fail", "warn"))
        set_variant(self.fix, "role", "error" if status == "fail" else "muted")
        self.retry_button.setVisible(status in ("fail", "warn"))
        offered = self.update_offered()
        self.update_button.setVisible(offered)
        self.skip_button.setVisible(offered and status == "warn")  # optional: may be skipped
        self.retry_button.setVisible(status in ("fail", "warn") and not offered)

    def update_offered(self) -> bool:
        """Whether this is the version check announcing a newer release."""
        details = getattr(self.result, "details", None) or {}
        return (self.check_id == "version" and self.result is not None
                and str(self.result.status) in ("fail", "warn")
                and bool(details.get("latest")) and not details.get("error"))

    def _on_skip_clicked(self) -> None:
        self.update_button.hide()
        self.skip_button.hide()
        self.fix.setText(_("Update skipped; you can update after the exam."))

    def show_update_progress(self, done: int, total: int) -> None:
        """Download progress of the update."""
        self.progress.show()
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)


class ChecksWidget(QWidget):
    """The start-up page; emits ``entered`` when the candidate may go on to the login."""

    entered = Signal()
    #: The update installer was started: the application should quit.
    quit_requested = Signal()

    def __init__(self, run_checks: RunChecks, check_ids: Sequence[str],
                 server_url: str = "", *, update_now: UpdateNow | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("page")
        self._run_checks = run_checks
        self._update_now = update_now
        self._update_cancel = threading.Event()
        self._rows: dict[str, CheckRowWidget] = {}
        self._running = 0
        outer = QVBoxLayout(self)
        outer.setContentsMargins(48, 32, 48, 32)
        outer.setSpacing(14)
        outer.addWidget(label(_("System check"), "title"))
        self.intro = label(_("Server connection → software version → time calibration → the "
                             "rest. Checks marked as required must pass before you can enter."),
                           "muted", wrap=True)
        outer.addWidget(self.intro)
        if server_url:
            outer.addWidget(label(_("Exam server: {url}").format(url=server_url), "muted",
                                  selectable=True))
        self.rows_box = QGridLayout()
        self.rows_box.setSpacing(12)
        self.rows_box.setContentsMargins(0, 0, 8, 0)
        for index, check_id in enumerate(check_ids):
            row = CheckRowWidget(check_id)
            row.retry_requested.connect(self._on_retry_requested)
            row.update_requested.connect(self._on_update_requested)
            row.hide()
            self._rows[check_id] = row
            self.rows_box.addWidget(row, index // 2, index % 2, Qt.AlignmentFlag.AlignTop)
        self.rows_box.setColumnStretch(0, 1)
        self.rows_box.setColumnStretch(1, 1)
        self.rows_box.setRowStretch(len(check_ids) // 2 + 1, 1)
        container = QWidget()
        container.setLayout(self.rows_box)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        container.setObjectName("pageBody")
        scroll.setWidget(container)
        outer.addWidget(scroll, 1)
        bottom = QHBoxLayout()
        self.summary = label("", "muted", wrap=True)
        bottom.addWidget(self.summary, 1)
        self.retry_all_button = button(_("Check again"))
        self.retry_all_button.clicked.connect(self.start)
        self.enter_button = button(_("Enter the system"), "primary", name="enterSystem")
        self.enter_button.setEnabled(False)
        self.enter_button.clicked.connect(self.entered.emit)
        bottom.addWidget(self.retry_all_button)
        bottom.addWidget(self.enter_button)
        outer.addLayout(bottom)

    # --- running -------------------------------------------------------------------------

    def start(self, only: Sequence[str] | None = None) -> None:
        """Run the checks (all, or ``only`` these ids) in the background."""
        ids = list(only) if only else list(self._rows)
        for check_id in ids:
            self._rows[check_id].set_running()
            if not only:
                self._rows[check_id].hide()
        self._running += 1
        self.enter_button.setEnabled(False)
        self.retry_all_button.setEnabled(False)
        self.summary.setText(_("Checking your computer…"))
        relay = on_main(self._on_result)
        run_task(lambda: self._run_checks(relay, ids), self._on_finished)

    def results(self) -> dict[str, Any]:
        """The latest result per check id (running ones are missing)."""
        return {i: r.result for i, r in self._rows.items() if r.result is not None}

    def _on_result(self, result: Any) -> None:
        row = self._rows.get(result.id)
        if row is None:
            return
        row.show()
        row.set_result(result)

    def _on_finished(self, _result: Any, error: BaseException | None) -> None:
        self._running -= 1
        if error is not None:
            self.summary.setText(message_for(error))
            set_variant(self.summary, "role", "error")
        if self._running:
            return
        self.retry_all_button.setEnabled(True)
        self._update_summary(error is None)

    def _update_summary(self, finished_ok: bool) -> None:
        results = self.results()
        failed = [r for r in results.values() if str(r.status) == "fail"]
        blocking = [r for r in failed if getattr(r, "blocking", True)]
        others = [r for r in failed if r not in blocking]
        complete = len(results) == len(self._rows)
        self.enter_button.setEnabled(finished_ok and complete and not blocking)
        if not finished_ok:
            return
        if blocking:
            names = _(", ").join(check_title(r.id) for r in blocking)
            text, role = _("Required checks failed: {names}. Fix them and retry.").format(
                names=names), "error"
        elif others:
            text, role = _("Some checks failed but do not stop you; please fix them before "
                           "the exam."), "muted"
        else:
            text, role = _("All required checks passed."), "ok"
        self.summary.setText(text)
        set_variant(self.summary, "role", role)

    def _on_retry_requested(self, check_id: str) -> None:
        self.start([check_id])

    def _on_update_requested(self, check_id: str) -> None:
        row = self._rows[check_id]
        if self._update_now is None:
            row.fix.setText(_("Download the new version from the link in your exam notice."))
            return
        row.update_button.setEnabled(False)
        row.skip_button.hide()
        row.update_button.setText(_("Updating…"))
        self.enter_button.setEnabled(False)
        update, cancel = self._update_now, self._update_cancel
        relay = on_main(row.show_update_progress)
        run_task(lambda: update(cancel, relay),
                 lambda result, error: self._on_update_done(row, error))

    def _on_update_done(self, row: CheckRowWidget, error: BaseException | None) -> None:
        row.progress.hide()
        row.update_button.setEnabled(True)
        row.update_button.setText(_("Update now"))
        if error is not None:
            row.fix.setText(message_for(error))
            set_variant(row.fix, "role", "error")
            row.fix.show()
            self._update_summary(True)
            return
        log.info("update installer started; quitting")
        QMessageBox.information(self, _("Update"), _("The installer has started. Zhishiyun "
                                                     "closes now and opens again when the "
                                                     "update is installed."))
        self.quit_requested.emit()

    def stop(self) -> None:
        """Cancel a running update download."""
        self._update_cancel.set()
