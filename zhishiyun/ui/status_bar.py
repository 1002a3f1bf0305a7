"""The status bar: server time, network state and pending uploads, read from the runtime."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zhishiyun.i18n import _
from zhishiyun.ui.qt import QLabel, QStatusBar, QTimer, QWidget
from zhishiyun.ui.tasks import run_quick

if TYPE_CHECKING:
    from zhishiyun.exam.runtime import ExamRuntime

HEALTH_EVERY_MS = 15_000
UPLOADS_EVERY_MS = 5_000


class StatusBarWidget(QStatusBar):
    """Ticks every second for the server time; pings the server now and then.

    The ping (which re-measures the runtime's one server clock) and the count of queued
    uploads run on the pool of short polls, so they never wait behind a long task such as
    entering an exam.

    Args:
        runtime: the app's :class:`~zhishiyun.exam.runtime.ExamRuntime`.
    """

    def __init__(self, runtime: ExamRuntime, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizeGripEnabled(False)
        self.runtime = runtime
        self.time_label = QLabel()
        self.time_label.setObjectName("serverTime")
        self.network_label = QLabel(_("Network: checking…"))
        self.network_label.setObjectName("networkState")
        self.uploads_label = QLabel()
        self.uploads_label.setObjectName("pendingUploads")
        self.addWidget(self.time_label)
        self.addPermanentWidget(self.uploads_label)
        self.addPermanentWidget(self.network_label)
        self._pinging = False
        self.online: bool | None = None
        self.clock = QTimer(self)
        self.clock.timeout.connect(self._on_clock_tick)
        self.clock.start(1000)
        self.health = QTimer(self)
        self.health.timeout.connect(self.check_network)
        self.health.start(HEALTH_EVERY_MS)
        self._counting = False
        self.pending: int | None = None
        self.problem: str | None = None
        self.uploads = QTimer(self)
        self.uploads.timeout.connect(self.count_uploads)
        self.uploads.start(UPLOADS_EVERY_MS)
        self._on_clock_tick()
        self.check_network()
        self.count_uploads()

    def _on_clock_tick(self) -> None:
        now = self.runtime.server_now().astimezone()
        self.time_label.setText(_("Server time {time}").format(
            time=now.strftime("%Y-%m-%d %H:%M:%S")))

    def count_uploads(self) -> None:
        """Count queued uploads in the background."""
        if self._counting:
            return
        self._counting = True
        runtime = self.runtime
        run_quick(lambda: (runtime.pending_uploads(), runtime.upload_problem()),
                  self._on_uploads_counted)

    def _on_uploads_counted(self, counted: Any, error: BaseException | None) -> None:
        self._counting = False
        if error is not None:
            self.uploads_label.setText(_("Uploads: queue unreadable"))
            return
        count, self.problem = counted
        self.pending = int(count)
        text = (_("Pending uploads: {n}").format(n=self.pending) if count
                else _("All uploads done"))
        # a reason that keeps coming back is shown, with what to do, never hidden
        self.uploads_label.setText(f"{text} — {self.problem}" if self.problem else text)
        self.uploads_label.setToolTip(self.problem or "")

    def check_network(self) -> None:
        """Probe the server (and re-measure its clock) in the background."""
        if self._pinging:
            return
        self._pinging = True
        run_quick(self.runtime.sync_clock, self._on_network_checked)

    def _on_network_checked(self, _result: Any, error: BaseException | None) -> None:
        self._pinging = False
        self.online = error is None
        self.network_label.setText(_("Network: connected") if self.online
                                   else _("Network: server unreachable"))
