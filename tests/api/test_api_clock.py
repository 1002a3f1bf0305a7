"""ServerClock: best of N probes, then monotonic time that ignores system clock changes."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from zhishiyun.api import ApiError
from zhishiyun.clock import ServerClock


class ScriptedServer:
    """A time source whose probes take given times; only the fastest tells the truth."""

    def __init__(self, delays, true_offset: float) -> None:
        self.delays = list(delays)
        self.true_offset = true_offset

    def server_time(self, timeout=None):
        delay = self.delays.pop(0)
        truth = time.time() + self.true_offset
        # A slow probe's server stamp is skewed by how long it took (asymmetric path).
        stamp = truth + (delay * 20 if delay > 0.01 else 0)
        time.sleep(delay)
        return SimpleNamespace(server_time_ms=int(stamp * 1000))


def test_the_fastest_probe_wins():
    clock = ServerClock()
    sample = clock.sync(ScriptedServer([0.05, 0.04, 0.0, 0.06], true_offset=100.0), samples=4)
    assert sample.rtt_s < 0.03
    assert clock.system_offset_s == pytest.approx(100.0, abs=0.05)
    assert clock.timestamp() - time.time() == pytest.approx(100.0, abs=0.05)


def test_changing_the_system_clock_does_not_move_server_time(monkeypatch):
    clock = ServerClock()
    clock.sync(ScriptedServer([0.0], true_offset=0.0), samples=1)
    before = clock.timestamp()
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 7200)  # the user sets the clock 2 h ahead
    assert clock.timestamp() == pytest.approx(before, abs=1.0)
    assert clock.now().timestamp() == pytest.approx(before, abs=1.0)


def test_unsynced_clock_uses_the_system_clock_and_failure_raises():
    clock = ServerClock()
    assert not clock.synced
    assert clock.timestamp() == pytest.approx(time.time(), abs=0.5)

    class Down:
        def server_time(self, timeout=None):
            raise ApiError(0, "network")

    with pytest.raises(ApiError):
        clock.sync(Down(), samples=2)
    assert not clock.synced
