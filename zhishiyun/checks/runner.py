"""Run checks concurrently, each with its own timeout, and collect a report.

Every check runs in its own daemon thread, so a hung camera driver or a server that never
answers can neither hang the run nor keep the process alive at exit: when a check passes its
timeout the runner reports it as timed out and moves on (the thread is abandoned).

Threading contract (the GUI relies on it): ``on_result`` and ``on_start`` are called on the
thread that called :meth:`CheckRunner.run` — never on a check's own thread — one call at a
time. The GUI calls ``run`` from a worker thread and marshals the callbacks to the UI thread.
With ``in_order=True`` results are delivered in the order of the checks given (the start-up
page shows server → version → clock → the rest); otherwise as they complete.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from zhishiyun import __version__
from zhishiyun.checks.base import Check, CheckResult, Status
from zhishiyun.checks.context import CheckContext
from zhishiyun.i18n import _

log = logging.getLogger(__name__)

ResultCallback = Callable[[CheckResult], None]
StartCallback = Callable[[Check], None]


@dataclass
class CheckReport:
    """All results of one run, in the order the checks were given."""

    results: list[CheckResult]
    started_at: datetime
    duration_ms: int
    client_version: str = __version__
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        """True when no check failed (pass, warn and skip are all fine)."""
        return not any(r.failed for r in self.results)

    @property
    def blocked(self) -> bool:
        """True when a blocking check failed: the candidate may not go on."""
        return any(r.failed and r.blocking for r in self.results)

    def get(self, check_id: str) -> CheckResult | None:
        """The result of one check, if it ran."""
        return next((r for r in self.results if r.id == check_id), None)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form QA scripts read."""
        return {
            "ok": self.ok,
            "blocked": self.blocked,
            "checks": [r.to_dict() for r in self.results],
            "started_at": self.started_at.isoformat(timespec="milliseconds"),
            "duration_ms": self.duration_ms,
            "client_version": self.client_version,
        }


class CheckRunner:
    """Runs checks concurrently with per-check timeouts.

    Args:
        checks: the checks to run (their order is the report's order).
        context: shared inputs; a fresh :class:`CheckContext` when omitted.
        on_result: called with each result as soon as it is known (see module docstring
            for the thread).
        on_start: called with each check just before it starts.
        in_order: deliver results in the order of ``checks`` instead of completion order.
        timeouts: per-check timeout overrides in seconds, by check id.
    """

    def __init__(self, checks: Sequence[Check], context: CheckContext | None = None, *,
                 on_result: ResultCallback | None = None,
                 on_start: StartCallback | None = None,
                 in_order: bool = False,
                 timeouts: Mapping[str, float] | None = None) -> None:
        self.checks = list(checks)
        self.context = context if context is not None else CheckContext()
        self.on_result = on_result
        self.on_start = on_start
        self.in_order = in_order
        self.timeouts = dict(timeouts or {})
        self._cancel = self.context.cancelled

    def timeout_for(self, check: Check) -> float:
        """The timeout that applies to ``check``."""
        return float(self.timeouts.get(check.id, check.timeout_s))

    def cancel(self) -> None:
        """Stop waiting (any thread): unfinished checks are reported as skipped."""
        self._cancel.set()

    def run(self) -> CheckReport:
        """Run every check and return the report (never longer than the largest timeout)."""
        started_at = datetime.now(timezone.utc)
        t0 = time.monotonic()
        done: queue.Queue[tuple[int, CheckResult]] = queue.Queue()
        results: dict[int, CheckResult] = {}
        deadlines: dict[int, float] = {}
        starts: dict[int, float] = {}
        delivered = 0

        for index, check in enumerate(self.checks):
            if self.on_start:
                self._safe_call(self.on_start, check)
            starts[index] = time.monotonic()
            deadlines[index] = starts[index] + self.timeout_for(check)
            thread = threading.Thread(target=self._work, args=(index, check, done),
                                      name=f"check-{check.id}", daemon=True)
            thread.start()

        def settle(index: int, result: CheckResult) -> None:
            nonlocal delivered
            if index in results:
                return  # came in after its timeout was reported
            result.duration_ms = int((time.monotonic() - starts[index]) * 1000)
            result.blocking = self._blocking(result.id)
            if not result.title:
                result.title = self.checks[index].translated_title()
            results[index] = result
            log.info("check %s: %s %s", result.id, result.status.value, result.message)
            if not self.on_result:
                return
            if not self.in_order:
                self._safe_call(self.on_result, result)
                return
            while delivered in results:
                self._safe_call(self.on_result, results[delivered])
                delivered += 1

        while len(results) < len(self.checks):
            if self._cancel.is_set():
                for index, check in enumerate(self.checks):
                    if index not in results:
                        settle(index, check.result(
                            Status.SKIP, _("Cancelled before it finished."),
                            details={"cancelled": True}))
                break
            now = time.monotonic()
            for index, deadline in deadlines.items():
                if index not in results and now >= deadline:
                    check = self.checks[index]
                    settle(index, check.timed_out(self.timeout_for(check)))
            pending = [d for i, d in deadlines.items() if i not in results]
            if not pending:
                break
            wait = max(0.0, min(min(pending) - now, 0.1))
            try:
                index, result = done.get(timeout=wait)
            except queue.Empty:
                continue
            settle(index, result)

        ordered = [results[i] for i in range(len(self.checks))]
        return CheckReport(results=ordered, started_at=started_at,
                           duration_ms=int((time.monotonic() - t0) * 1000),
                           client_version=self.context.client_version,
                           cancelled=self._cancel.is_set())

    def _work(self, index: int, check: Check, done: queue.Queue) -> None:
        try:
            result = check.run(self.context)
        except Exception as exc:  # a bug in a check must not take the others down
            log.exception("check %s raised", check.id)
            result = check.result(
                Status.FAIL,
                _("The {title} check stopped with an internal error: {error}").format(
                    title=check.translated_title(), error=str(exc) or type(exc).__name__),
                _("Run the checks again; if it repeats, send the diagnostics to exam "
                  "support (zhishiyun diagnose)."),
                {"error": repr(exc)},
            )
        done.put((index, result))

    def _blocking(self, check_id: str) -> bool:
        try:
            return self.context.is_blocking(check_id)
        except Exception:  # thresholds unreadable: fall back to the defaults' list
            from zhishiyun.config import CheckThresholds

            return check_id in CheckThresholds().blocking_checks

    @staticmethod
    def _safe_call(callback: Callable[[Any], None], value: Any) -> None:
        try:
            callback(value)
        except Exception:
            log.exception("check callback raised")
