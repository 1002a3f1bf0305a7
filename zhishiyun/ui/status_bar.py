"""The status bar: server time, network state and pending uploads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from zhishiyun.i18n import _
from zhishiyun.ui.qt import QLabel, QStatusBar, QTimer, QWidget
from zhishiyun.ui.tasks import run_task

HEALTH_EVERY_MS = 15_000


class StatusBarWidget(QStatusBar):
    """Ticks every second for the server time; pings the server now and then.

    Args:
        server_now: the current server time (aware datetime).
        ping: blocking reachability probe (runs on a pool thread); raises when unreachable.
        pending_uploads: how many uploads wait (None when this build has no upload queue).
    """

    def __init__(self, server_now: Callable[[], datetime], ping: Callable[[], Any] | None,
                 pending_uploads: Callable[[], int | None] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizeGripEnabled(False)
        self._server_now, self._ping, self._pending = server_now, ping, pending_uploads
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
        self._on_clock_tick()
        self.check_network()

    def _on_clock_tick(self) -> None:
        now = self._server_now().astimezone()
        self.time_label.setText(_("Server time {time}").format(
            time=now.strftime("%Y-%m-%d %H:%M:%S")))
        pending = self._pending() if self._pending else None
        self.uploads_label.setText(_("Uploads: not available in this build") if pending is None
                                   else _("Pending uploads: {n}").format(n=pending))

    def check_network(self) -> None:
        """Probe the server in the background."""
        if self._ping is None or self._pinging:
            return
        self._pinging = True
        run_task(self._ping, self._on_network_checked)

    def _on_network_checked(self, _result: Any, error: BaseException | None) -> None:
        self._pinging = False
        self.online = error is None
        self.network_label.setText(_("Network: connected") if self.online
                                   else _("Network: server unreachable"))
