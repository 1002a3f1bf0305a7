"""``ServerClock``: the server's time from a monotonic clock plus a measured offset.

The offset is measured NTP-style against ``GET /time``: for each of N probes the client
notes its monotonic time before (t0) and after (t1) and the server's time s; the probe
with the shortest round trip wins and ``offset = s - (t0 + t1) / 2``. Afterwards
``now()`` is ``time.monotonic() + offset``, so changing the computer's clock while the
client runs changes nothing. ``system_offset_s`` says how far the computer's own clock
was off at measurement (the clock check reports it).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol

log = logging.getLogger(__name__)


class _TimeSource(Protocol):
    def server_time(self, timeout: float | None = None): ...  # noqa: D102


@dataclass(frozen=True)
class ClockSample:
    """One probe: round trip and the server-minus-monotonic offset it implies."""

    rtt_s: float
    offset_s: float
    system_offset_s: float


class ServerClock:
    """Server time that survives the computer's clock being changed.

    Before :meth:`sync` succeeds, ``now()`` falls back to the computer's own clock
    (``synced`` is False).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset: float | None = None
        self._rtt: float | None = None
        self._system_offset: float | None = None
        self._synced_at: float | None = None

    def sync(self, client: _TimeSource, samples: int = 5, timeout: float = 3.0) -> ClockSample:
        """Measure against the server (best of ``samples`` probes).

        Raises:
            ApiError: when no probe succeeded (the last error).
        """
        best: ClockSample | None = None
        last_error: Exception | None = None
        for _ in range(max(1, samples)):
            wall0, t0 = time.time(), time.monotonic()
            try:
                reply = client.server_time(timeout=timeout)
            except Exception as exc:  # noqa: BLE001 - re-raised below when nothing worked
                last_error = exc
                continue
            t1, wall1 = time.monotonic(), time.time()
            server_s = reply.server_time_ms / 1000.0
            sample = ClockSample(rtt_s=t1 - t0, offset_s=server_s - (t0 + t1) / 2,
                                 system_offset_s=server_s - (wall0 + wall1) / 2)
            if best is None or sample.rtt_s < best.rtt_s:
                best = sample
        if best is None:
            assert last_error is not None
            raise last_error
        with self._lock:
            self._offset, self._rtt = best.offset_s, best.rtt_s
            self._system_offset, self._synced_at = best.system_offset_s, time.monotonic()
        log.info("server clock: offset of this computer %+.3f s, round trip %.0f ms",
                 -best.system_offset_s, best.rtt_s * 1000)
        return best

    @property
    def synced(self) -> bool:
        """True once a measurement succeeded."""
        return self._offset is not None

    @property
    def rtt_s(self) -> float | None:
        """Round trip of the best probe, seconds."""
        return self._rtt

    @property
    def system_offset_s(self) -> float | None:
        """Server time minus this computer's clock at measurement (positive: we are behind)."""
        return self._system_offset

    @property
    def uncertainty_s(self) -> float | None:
        """Half the best round trip: how far off ``now()`` may be."""
        return None if self._rtt is None else self._rtt / 2

    def timestamp(self) -> float:
        """Server time as seconds since the Unix epoch."""
        with self._lock:
            offset = self._offset
        if offset is None:
            return time.time()
        return time.monotonic() + offset

    def now(self) -> datetime:
        """Server time, timezone-aware UTC."""
        return datetime.fromtimestamp(self.timestamp(), tz=timezone.utc)

    def seconds_until(self, moment: datetime) -> float:
        """Seconds from server-now until ``moment`` (negative when it has passed)."""
        return moment.timestamp() - self.timestamp()
