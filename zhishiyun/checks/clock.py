"""``clock``: how far the computer's clock is from the exam server and from NTP servers.

The server offset is measured NTP-style over ``GET /time`` (send time t0, server time, receive
time t1; offset = server − (t0 + t1) / 2, from the sample with the shortest round trip). NTP
servers from the config (``host`` or ``host:port``) are asked in parallel with ntplib; the
ones that do not answer in time are listed as unreachable.

The exam always runs on server time, so when the server could be measured its offset alone
can fail the check; an NTP offset then at most warns (the server's own clock may be off).
Without a server, the NTP offsets decide.
"""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

from zhishiyun.checks import network
from zhishiyun.checks.base import Check, CheckResult, Status
from zhishiyun.checks.context import CheckContext
from zhishiyun.i18n import N_, _

SERVER_SAMPLES = 3
NTP_TIMEOUT_S = 2.0


class _ProbeTimeSource:
    """``GET /time`` for :class:`~zhishiyun.clock.ServerClock`, failing fast after a failure.

    Raising :class:`~zhishiyun.checks.network.ProbeError` keeps the reason (timed out,
    refused …); after one failure the remaining probes fail at once instead of each
    waiting for its own timeout.
    """

    def __init__(self, context: CheckContext) -> None:
        self.context = context
        self.failure: network.ProbeError | None = None

    def server_time(self, timeout: float | None = None) -> SimpleNamespace:
        if self.failure is not None:
            raise self.failure
        try:
            reply = network.request_json(
                self.context.session, "GET", self.context.api_url("/time"),
                timeout=timeout or self.context.probe_timeout_s,
                expect_keys=("server_time_ms",))
        except network.ProbeError as exc:
            self.failure = exc
            raise
        return SimpleNamespace(server_time_ms=float(reply.data["server_time_ms"]))


def measure_server_offset(context: CheckContext, samples: int = SERVER_SAMPLES
                          ) -> dict[str, float]:
    """Offset (server − this computer's clock, seconds) and round trip of the best probe.

    Raises:
        ProbeError: the server cannot be asked.
    """
    from zhishiyun.clock import ServerClock

    sample = ServerClock().sync(_ProbeTimeSource(context), samples=samples,
                                timeout=context.probe_timeout_s)
    return {"offset_s": round(sample.system_offset_s, 3),
            "rtt_ms": round(sample.rtt_s * 1000, 1)}


def split_host_port(server: str) -> tuple[str, int]:
    """``host``, ``host:port`` or ``[v6]:port`` → (host, port); the NTP port is 123."""
    server = server.strip()
    if server.startswith("["):
        host, _sep, rest = server[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else 123
    if server.count(":") == 1:
        host, port = server.split(":")
        return host, int(port)
    return server, 123


def query_ntp(servers: tuple[str, ...], timeout_s: float = NTP_TIMEOUT_S
              ) -> dict[str, dict[str, Any]]:
    """Ask every NTP server in parallel; ``{server: {offset_s, delay_ms} | {error}}``."""
    import ntplib

    results: dict[str, dict[str, Any]] = {}

    def ask(server: str) -> None:
        try:
            host, port = split_host_port(server)
            stats = ntplib.NTPClient().request(host, version=3, port=port, timeout=timeout_s)
            results[server] = {"offset_s": round(stats.offset, 3),
                               "delay_ms": round(stats.delay * 1000, 1)}
        except (ntplib.NTPException, OSError, ValueError) as exc:
            results[server] = {"error": str(exc) or type(exc).__name__}

    threads = [threading.Thread(target=ask, args=(s,), daemon=True, name=f"ntp-{s}")
               for s in servers]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout_s + 0.5
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    for server in servers:
        results.setdefault(server, {"error": "no answer"})
    return results


def describe_offset(offset_s: float) -> str:
    """``3 min 12 s ahead`` / ``1.5 s behind`` (the local clock relative to the reference)."""
    amount = abs(offset_s)
    if amount >= 59.5:
        amount = round(amount)  # whole seconds: 599.998 s reads "10 min 0 s"
    if amount >= 3600:
        text = _("{h} h {m} min").format(h=int(amount // 3600), m=int(amount % 3600 // 60))
    elif amount >= 60:
        text = _("{m} min {s} s").format(m=int(amount // 60), s=int(amount % 60))
    else:
        text = _("{s:.1f} s").format(s=amount)
    # offset = reference − local: positive means the local clock is behind.
    return (_("{amount} behind") if offset_s > 0 else _("{amount} ahead")).format(amount=text)


class ClockCheck(Check):
    """Offset to server time (decides) and to the configured NTP servers."""

    id = "clock"
    title = N_("Time calibration")
    timeout_s = 10.0

    def run(self, context: CheckContext) -> CheckResult:
        """Measure the offsets and judge them against ``clock_warn_s``/``clock_fail_s``."""
        limits = context.thresholds
        details: dict[str, Any] = {"warn_s": limits.clock_warn_s, "fail_s": limits.clock_fail_s}
        server: dict[str, float] | None = None
        ntp_servers = context.ntp_servers
        ntp_thread_result: dict[str, dict[str, Any]] = {}
        ntp_timeout = min(NTP_TIMEOUT_S, context.probe_timeout_s)
        ntp_thread = threading.Thread(
            target=lambda: ntp_thread_result.update(query_ntp(ntp_servers, ntp_timeout)),
            daemon=True)
        ntp_thread.start()
        if context.has_server:
            try:
                server = measure_server_offset(context)
                details["server"] = server
            except network.ProbeError as exc:
                details["server"] = {"error": exc.kind, "detail": exc.detail}
        ntp_thread.join(ntp_timeout + 1.0)
        details["ntp"] = dict(ntp_thread_result)
        ntp_offsets = sorted(v["offset_s"] for v in ntp_thread_result.values()
                             if "offset_s" in v)
        ntp = ntp_offsets[len(ntp_offsets) // 2] if ntp_offsets else None
        details["ntp_offset_s"] = ntp

        fix = _("Turn on automatic date and time (Windows: Settings → Time & language → Set "
                "time automatically; macOS: System Settings → General → Date & Time), then "
                "run the check again. The exam itself always follows the server's time.")
        if server is not None:
            status, offset = self._judge(server["offset_s"], limits), server["offset_s"]
            if status is not Status.PASS:
                message = (_("Your computer's clock is {offset} the exam server's time.")
                           if status is Status.FAIL else
                           _("Your computer's clock is {offset} the exam server's time; "
                             "that is more than {warn:g} s."))
                return self.result(status, message.format(offset=describe_offset(offset),
                                                          warn=limits.clock_warn_s),
                                   fix, details)
            if ntp is not None and self._judge(ntp, limits) is not Status.PASS:
                return self.result(
                    Status.WARN,
                    _("Your clock matches the exam server but is {offset} internet time.")
                    .format(offset=describe_offset(ntp)), fix, details)
            return self.result(Status.PASS, _("Your clock matches the exam server (off by "
                                              "{ms:.0f} ms).").format(ms=abs(offset) * 1000),
                               details=details)
        if ntp is None:
            return self.result(
                Status.SKIP, _("The clock could not be compared: no time server answered."),
                _("Check your internet connection; the exam will still use the server's "
                  "time."), details)
        status = self._judge(ntp, limits)
        if status is Status.PASS:
            return self.result(Status.PASS, _("Your clock matches internet time (off by {ms:.0f} "
                                              "ms).").format(ms=abs(ntp) * 1000),
                               details=details)
        return self.result(status, _("Your computer's clock is {offset} internet time.").format(
            offset=describe_offset(ntp)), fix, details)

    @staticmethod
    def _judge(offset_s: float, limits: Any) -> Status:
        if abs(offset_s) > limits.clock_fail_s:
            return Status.FAIL
        if abs(offset_s) > limits.clock_warn_s:
            return Status.WARN
        return Status.PASS
