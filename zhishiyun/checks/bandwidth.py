"""``bandwidth``: upload speed to the server, measured with a short real upload.

A small probe upload sizes the real one so it takes about a second (at most 8 MB, the
server's limit). The rate is compared with an estimate of what the recording settings
produce (see :func:`required_kbps`); below it the recordings queue up and finish
uploading after the exam, which is a warning, not a failure.
"""

from __future__ import annotations

import os

from zhishiyun.checks import network
from zhishiyun.checks.base import Check, CheckResult, Status
from zhishiyun.checks.context import CheckContext
from zhishiyun.checks.server import no_server_result, unreachable_result
from zhishiyun.config import RecordingSettings
from zhishiyun.i18n import N_, _

PROBE_BYTES = 64 * 1024
MIN_BYTES, MAX_BYTES = 128 * 1024, 8 * 1024 * 1024
TARGET_SECONDS = 1.0
#: Bits per pixel libx264 spends at our CRF on screen content and on a webcam picture
#: (screen: measured 120–900 kbit/s at 1920×1080, 5 fps; see ENVIRONMENT.md).
SCREEN_BITS_PER_PIXEL, CAMERA_BITS_PER_PIXEL = 0.05, 0.07
#: Headroom so that uploads catch up after bursts (segments close every 30 s).
HEADROOM = 1.5


def required_kbps(rec: RecordingSettings) -> float:
    """Estimated upload rate (kbit/s) the recording settings need, with headroom."""
    screen = rec.screen_max_side * (rec.screen_max_side * 9 / 16) * rec.screen_fps
    camera = rec.camera_width * rec.camera_height * rec.camera_fps
    bits = screen * SCREEN_BITS_PER_PIXEL + camera * CAMERA_BITS_PER_PIXEL + rec.audio_bitrate
    return round(bits * HEADROOM / 1000, 1)


def upload(context: CheckContext, size: int) -> tuple[int, float]:
    """POST ``size`` random bytes to ``/speedtest``; (bytes the server read, seconds)."""
    body = os.urandom(size)
    reply = network.request_json(
        context.session, "POST", context.api_url("/speedtest"), data=body,
        headers={"Content-Type": "application/octet-stream"},
        timeout=(context.probe_timeout_s, context.probe_timeout_s * 2),
        expect_keys=("bytes", "seconds"))
    try:
        return int(reply.data["bytes"]), reply.seconds
    except (TypeError, ValueError, OverflowError):  # e.g. "bytes": "lots"
        raise network.ProbeError(network.NOT_ZHISHIYUN, "the speed test reply has no byte "
                                 "count", reply.status) from None


class BandwidthCheck(Check):
    """Upload rate against what the recording settings need."""

    id = "bandwidth"
    title = N_("Upload speed")
    timeout_s = 20.0
    needs_server = True

    def run(self, context: CheckContext) -> CheckResult:
        """Probe, then upload for about a second and compute the rate."""
        if not context.has_server:
            return no_server_result(self)
        need = required_kbps(context.recording)
        details: dict[str, object] = {"required_kbps": need}
        try:
            sent, seconds = upload(context, PROBE_BYTES)
            rate = sent / max(seconds, 1e-6)
            size = int(min(MAX_BYTES, max(MIN_BYTES, rate * TARGET_SECONDS)))
            if not context.cancelled.is_set():
                sent, seconds = upload(context, size)
        except network.ProbeError as exc:
            if exc.kind == network.TIMED_OUT:
                details.update(error=exc.kind)
                return self.result(
                    Status.FAIL, _("A short test upload to the exam server did not finish."),
                    _("Use a faster network (a cable, or closer to the Wi-Fi router) and stop "
                      "downloads, video streams and cloud sync during the exam."), details)
            if exc.kind in (network.CANNOT_RESOLVE, network.REFUSED, network.UNTRUSTED_CERT,
                            network.NETWORK):
                return unreachable_result(self, exc)
            details.update(error=exc.kind, detail=exc.detail)
            return self.result(Status.WARN, _("The upload speed could not be measured ({detail})."
                                              ).format(detail=exc.detail),
                               _("Try again later."), details)
        kbps = round(sent * 8 / max(seconds, 1e-6) / 1000, 1)
        details.update(bytes=sent, seconds=round(seconds, 3), upload_kbps=kbps)
        if kbps < need:
            return self.result(
                Status.WARN,
                _("Upload speed is {rate:.2f} Mbit/s; the recording needs about {need:.2f} "
                  "Mbit/s, so videos will finish uploading after the exam.").format(
                    rate=kbps / 1000, need=need / 1000),
                _("Use a faster network (a cable, or closer to the Wi-Fi router) and stop "
                  "downloads, video streams and cloud sync during the exam."), details)
        return self.result(Status.PASS, _("Upload speed {rate:.1f} Mbit/s (the recording needs "
                                          "about {need:.1f} Mbit/s).").format(rate=kbps / 1000,
                                                                       need=need / 1000),
                           details=details)
