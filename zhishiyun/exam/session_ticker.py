"""The ticker of an :class:`~zhishiyun.exam.session.ExamSession` (thread ``exam-ticker``).

Each tick moves the state on time (start, time up in every state before the end), hands
the events to the queue, probes the network and notices when every upload is settled.
"""

from __future__ import annotations

import logging
import threading
import time

from zhishiyun.api.errors import ApiError
from zhishiyun.exam.session_end import refused_after_end
from zhishiyun.exam.session_state import BEFORE_END, State

log = logging.getLogger(__name__)


class SessionTickerMixin:
    """The ticker part of an ExamSession (uses its attributes)."""

    def _start_ticker(self) -> None:
        if self._ticker is None:
            self._ticker = threading.Thread(target=self._tick_loop, name="exam-ticker",
                                            daemon=True)
            self._ticker.start()

    def _tick_loop(self) -> None:
        while not self._stop.wait(self.tick_seconds):
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - the ticker must never die mid-exam
                log.exception("exam ticker")

    def tick(self) -> None:
        """One step: state by time, time up, events to the queue, network, uploads done."""
        state = self.state
        if state in (State.WAITING, State.IN_PROGRESS):
            new = self._time_state()
            if new != state:
                self._set_state(new)
        if state in BEFORE_END and self.ends_at is not None and self.seconds_left() <= 0:
            self.finish("time_up")  # in every state: an unconfirmed exam ends too
        self.flush_events()
        if time.monotonic() >= self._next_ping:
            self._next_ping = time.monotonic() + self.ping_seconds
            self._check_network()
        if self.state == State.FINISHING and self._closed_out.is_set() and \
                self.uploads_settled():
            self._stop.set()  # nothing is left to do: no more writes into the session
            self._set_state(State.DONE)

    def uploads_settled(self) -> bool:
        """Every upload of the session is done, or refused as written after the end."""
        totals = self.upload_totals()
        if not totals:
            return False
        refused = 0
        if totals.get("items_failed", 0):  # a refused event batch cannot succeed by retrying
            refused, _events = refused_after_end(self.queue.items(self.session_id))
        return totals.get("items_done", 0) + refused >= totals.get("items_total", 0)

    def _check_network(self) -> None:
        try:
            self.client.raw("GET", "/health", auth=False, timeout=(2.0, 2.0))
            online = True
        except ApiError:
            online = False
        if online == self.online:
            return
        self.online = online
        # After the end a new outage is no proctoring fact any more, but the end of one that
        # began during the exam is: it tells the reviewer why lines arrived late.
        if not self.finish_reason:
            self._outage_in_exam = not online
            self.record_event("network_back" if online else "network_lost", {})
        elif online and self._outage_in_exam:
            self._outage_in_exam = False
            self.record_event("network_back", {"after_end": True})
        if online and self.worker is not None:
            self.worker.retry_now()
        self._emit("network", online)
