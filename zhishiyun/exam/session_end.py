"""The end of an :class:`~zhishiyun.exam.session.ExamSession`: finish, events after it, close.

The finish stops the recorder (its last segments close and are queued), queues the events,
tells the server (or queues the call) and removes the active-session record. Events
written once the finish went out are the server's to refuse (``saved_after_end``): they
stay on this computer, and the candidate is told how many (:attr:`events_after_end` plus
the refusals the server answered, :func:`refused_after_end`).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterable
from typing import Any

from zhishiyun.active_session import clear_active
from zhishiyun.api.errors import ApiError
from zhishiyun.exam.session_state import State, outage_end
from zhishiyun.upload.queue import FAILED

log = logging.getLogger(__name__)
FINISH_REASONS = ("time_up", "candidate_ended")
_REFUSED_COUNT = re.compile(r"(\d+) event\(s\) were written after the end")


def refused_after_end(items: Iterable[Any]) -> tuple[int, int]:
    """``(batches, events)`` the server refused as written after the end (409).

    ``items`` are the session's queue items; a refused batch is a failed ``events`` item
    whose reason carries ``saved_after_end`` (the server stored the batch's other events).
    """
    batches = events = 0
    for item in items:
        if item.kind != "events" or item.state != FAILED or \
                "saved_after_end" not in (item.reason or ""):
            continue
        batches += 1
        found = _REFUSED_COUNT.search(item.reason)
        events += int(found.group(1)) if found else _batch_size(item)
    return batches, events


def _batch_size(item: Any) -> int:
    try:
        return max(1, len(json.loads(item.payload or "{}").get("events", [])))
    except ValueError:
        return 1


class SessionEndMixin:
    """``finish``, ``flush_events`` and ``close`` of an ExamSession (uses its attributes)."""

    #: Events recorded after the finish went out, kept on this computer only.
    events_after_end: int = 0

    def finish(self, reason: str) -> None:
        """End the exam (``time_up`` or ``candidate_ended``); idempotent. Blocking ~2 s.

        Recording stops (its last segments close and are queued), the events are queued,
        the server is told (or the call is queued when it cannot be reached), and the
        active-session record is removed. Uploads go on until ``state`` is ``done``.
        """
        if reason not in FINISH_REASONS:
            raise ValueError(f"unknown finish reason {reason!r}")
        with self._finish_lock:
            if self.finish_reason:
                return
            self.finish_reason = reason
            self.record_event("exam_finished", {"reason": reason})
            self._set_state(State.FINISHING)
            self._stop_presence()
            self.guard.stop()
            recorder = self.recorder
            if recorder is not None:
                recorder.stop(reason)
            self.flush_events()
            last_seq = self.guard.last_seqs()
            try:
                self.client.finish(self.session_id, reason, last_seq)
                self.finish_posted = True
            except ApiError as exc:
                log.info("finish not delivered (%s); queued", exc.code)
                self.uploads.finish(reason, last_seq)
            clear_active(self.data_dir, self.session_id)
            self._closed_out.set()
        self._start_ticker()

    def flush_events(self) -> int:
        """Hand the events not yet queued to the upload queue as one batch.

        Events recorded once the finish went out were written after the end: the server
        refuses those (``saved_after_end``), so they stay in the local store and the log,
        and count in :attr:`events_after_end`. The one exception is the end of an outage
        that began during the exam (it explains late deliveries), which the server takes
        marked ``after_end``.
        """
        store = self._need_store()
        with self._lock:
            events = store.unqueued_events()
            if not events:
                return 0
            if self._closed_out.is_set():
                local = [e for e in events if not outage_end(e)]
                if local:
                    log.info("session %s: %d event(s) after the end kept on this computer "
                             "only", self.session_id, len(local))
                    store.mark_queued([e["id"] for e in local])  # never sent: no retry
                    self.events_after_end += len(local)
                events = [e for e in events if outage_end(e)]
                if not events:
                    return 0
            self.uploads.post_events(events)
            store.mark_queued([e["id"] for e in events])
        return len(events)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the ticker and the recorder (the queue keeps what is pending)."""
        self._stop.set()
        self._stop_presence()
        self.guard.stop()
        if self.recorder is not None:
            self.recorder.stop("closed")
        if self.store is not None:
            self.flush_events()
        chain, self.answer_chain = self.answer_chain, None
        if chain is not None:
            chain.close()
        if self._ticker is not None and self._ticker is not threading.current_thread():
            self._ticker.join(timeout)
