"""``server``: the exam server answers ``GET /health`` quickly, over a trusted connection."""

from __future__ import annotations

from urllib.parse import urlparse

from zhishiyun.api.errors import MESSAGES
from zhishiyun.checks import network
from zhishiyun.checks.base import Check, CheckResult, Status
from zhishiyun.checks.context import CheckContext
from zhishiyun.i18n import N_, _

#: Failure kinds after which the server-dependent checks skip (the server check explains).
UNREACHABLE = (network.CANNOT_RESOLVE, network.REFUSED, network.UNTRUSTED_CERT,
               network.TIMED_OUT, network.NETWORK)


def no_server_result(check: Check) -> CheckResult:
    """What a server-dependent check reports when no server is configured."""
    return check.result(
        Status.SKIP, _("No exam server is configured."),
        _("Start Zhishiyun from your exam notice, or pass --server with the address it "
          "gives."), {"error": "no_server"})


def unreachable_result(check: Check, exc: network.ProbeError) -> CheckResult:
    """What a server-dependent check reports when the server cannot be reached."""
    return check.result(
        Status.SKIP, _("Not checked: the exam server cannot be reached (see the server "
                       "check)."), details={"error": exc.kind, "detail": exc.detail})


def failure_text(kind: str, host: str, port: int | None, timeout_s: float,
                 detail: str) -> tuple[str, str]:
    """Message and fix for a request to the server that failed with ``kind``."""
    if kind == network.CANNOT_RESOLVE:
        return (_("The server address {host} cannot be found (the name does not "
                  "resolve).").format(host=host),
                _("Check the address in your exam notice and your internet connection. If "
                  "other websites open, tell exam support which address you used."))
    if kind == network.REFUSED:
        return (_("The exam server {host} refused the connection on port {port}.").format(
                    host=host, port=port),
                _("The server may be down or the address may be wrong. Check the address, "
                  "wait a minute and try again; if it persists, contact exam support."))
    if kind == network.UNTRUSTED_CERT:  # the same words wherever the client meets it
        return (_(MESSAGES["tls"]),
                _("Check that your computer's date and time are correct. On a school or "
                  "company network, ask IT whether HTTPS is intercepted; the organiser's CA "
                  "file can be set as ca_bundle."))
    if kind == network.TIMED_OUT:
        return (_("The exam server {host} did not answer within {seconds:g} s.").format(
                    host=host, seconds=timeout_s),
                _("Check your internet connection, turn off VPNs and proxies, move closer to "
                  "the Wi-Fi router or use a cable, then try again."))
    if kind == network.NOT_ZHISHIYUN:
        return (_("{host} answered, but it is not a Zhishiyun exam server ({detail}).").format(
                    host=host, detail=detail),
                _("Check the server address: use exactly the address from your exam notice."))
    if kind == network.SERVER_ERROR:
        return (_("The exam server reported an error ({detail}).").format(detail=detail),
                _("Wait a few minutes and try again; if it persists, contact exam support."))
    return (_("The exam server cannot be reached: {detail}").format(detail=detail),
            _("Check your internet connection and try again."))


class ServerCheck(Check):
    """Reachability and latency of ``GET /health``."""

    id = "server"
    title = N_("Exam server")
    timeout_s = 10.0
    needs_server = True

    def run(self, context: CheckContext) -> CheckResult:
        """Ask ``/health`` twice (the second answer measures latency without set-up)."""
        if not context.has_server:
            return no_server_result(self)
        parsed = urlparse(context.server_url)
        host = parsed.hostname or context.server_url
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        details: dict[str, object] = {"url": context.server_url}
        timings = []
        try:
            for _attempt in range(2):
                reply = network.request_json(context.session, "GET", context.api_url("/health"),
                                             timeout=context.probe_timeout_s,
                                             expect_keys=("status", "version"))
                timings.append(reply.seconds)
        except network.ProbeError as exc:
            details.update(error=exc.kind, detail=exc.detail)
            message, fix = failure_text(exc.kind, host, port, context.probe_timeout_s,
                                        exc.detail)
            return self.result(Status.FAIL, message, fix, details)
        latency_ms = round(min(timings) * 1000, 1)
        limit = context.thresholds.server_latency_warn_ms
        details.update(latency_ms=latency_ms, latency_warn_ms=limit,
                       server_version=reply.data.get("version"),
                       server_status=reply.data.get("status"))
        if reply.data.get("status") != "ok":
            return self.result(
                Status.WARN, _("The exam server answers but reports status {status!r}.").format(
                    status=reply.data.get("status")),
                _("Try again in a few minutes; if it persists, contact exam support."), details)
        if latency_ms > limit:
            return self.result(
                Status.WARN,
                _("The exam server answers slowly ({latency:.0f} ms; more than {limit:.0f} ms "
                  "makes the exam sluggish).").format(latency=latency_ms, limit=limit),
                _("Use a faster or wired network and stop large downloads or video streams."),
                details)
        return self.result(Status.PASS, _("Connected to {host} ({latency:.0f} ms).").format(
            host=host, latency=latency_ms), details=details)
