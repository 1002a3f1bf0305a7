"""Pacing for the upload worker: capped exponential backoff with jitter, and a rate cap."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable


class Backoff:
    """Delays for consecutive failures: ``base * 2**n`` capped at ``cap``, with jitter.

    The delay is drawn from ``[d/2, d]`` ("equal jitter"), so clients that lost the network
    together do not return together. ``reset()`` after a success.
    """

    def __init__(self, base: float = 1.0, cap: float = 60.0,
                 rng: random.Random | None = None) -> None:
        self.base, self.cap = base, cap
        self.failures = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        """The delay before the next attempt (and count one more failure)."""
        ceiling = min(self.cap, self.base * (2 ** min(self.failures, 30)))
        self.failures += 1
        return ceiling / 2 + self._rng.random() * ceiling / 2

    def reset(self) -> None:
        """A success: the next failure starts from ``base`` again."""
        self.failures = 0


class TokenBucket:
    """A byte-rate cap applied between chunks; ``rate`` None means unlimited.

    ``take(n)`` may overdraw the bucket (a chunk larger than the burst still goes) and then
    waits until the debt is paid, so the average rate holds. The rate can change at any
    time from any thread; a waiting ``take`` notices within ``_TICK`` seconds.
    """

    _TICK = 0.25

    def __init__(self, rate: float | None = None, burst: float | None = None) -> None:
        self._lock = threading.Lock()
        self._rate = rate
        self._burst = burst
        self._tokens = self._capacity()
        self._stamp = time.monotonic()

    def _capacity(self) -> float:
        if self._rate is None:
            return 0.0
        return self._burst if self._burst is not None else self._rate

    @property
    def rate(self) -> float | None:
        """The cap in bytes per second (None: unlimited)."""
        return self._rate

    def set_rate(self, rate: float | None) -> None:
        """Change the cap (bytes per second, or None to lift it)."""
        with self._lock:
            self._refill()
            self._rate = rate if rate and rate > 0 else None
            self._tokens = min(self._tokens, self._capacity())

    def _refill(self) -> None:
        now = time.monotonic()
        if self._rate is not None:
            self._tokens = min(self._capacity(),
                               self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now

    def take(self, amount: int, cancel: threading.Event) -> bool:
        """Spend ``amount`` bytes, waiting as the cap requires; False if cancelled."""
        with self._lock:
            self._refill()
            if self._rate is None:
                return not cancel.is_set()
            self._tokens -= amount
        while True:
            with self._lock:
                self._refill()
                if self._rate is None or self._tokens >= 0:
                    return not cancel.is_set()
                wait = -self._tokens / self._rate
            if cancel.wait(min(wait, self._TICK)):
                return False


class ChunkSizer:
    """Sizes tus chunks so that each PATCH takes about ``target_s`` seconds.

    Fast links get few, large chunks (few round trips); slow or rate-capped links get small
    ones (a dropped connection wastes at most about ``target_s`` of transfer, progress and
    cancel stay prompt). ``fixed`` turns it into a constant size.
    """

    def __init__(self, first: int = 8 * 1024 * 1024, low: int = 256 * 1024,
                 high: int = 32 * 1024 * 1024, target_s: float = 1.0,
                 fixed: bool = False,
                 rate_cap: Callable[[], float | None] | None = None) -> None:
        self.size, self.low, self.high = first, low, high
        self.target_s, self.fixed = target_s, fixed
        self._rate_cap = rate_cap

    def next_size(self) -> int:
        """The size of the next chunk (never above what the rate cap sends in target_s)."""
        if self.fixed:
            return self.size
        size = self.size
        rate_cap = self._rate_cap() if self._rate_cap else None
        if rate_cap:
            size = min(size, int(rate_cap * self.target_s))
        return max(self.low, min(self.high, size))

    def observe(self, nbytes: int, seconds: float) -> None:
        """A chunk of ``nbytes`` took ``seconds`` on the wire."""
        if self.fixed or nbytes <= 0 or seconds <= 0:
            return
        wanted = nbytes / seconds * self.target_s
        # grow at most 4x per step, shrink at once
        self.size = max(self.low, min(self.high, int(min(wanted, self.size * 4))))
