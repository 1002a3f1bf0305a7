"""``version``: the installed client against the server's latest and minimum release."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from packaging.version import InvalidVersion, Version

from zhishiyun.api.client import RELEASE_PATH
from zhishiyun.checks import network
from zhishiyun.checks.base import Check, CheckResult, Status
from zhishiyun.checks.context import CheckContext
from zhishiyun.checks.server import UNREACHABLE, no_server_result, unreachable_result
from zhishiyun.i18n import N_, _


def _field(data: Mapping[str, Any], *names: str) -> str:
    for name in names:
        value = data.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def platform_id() -> str:
    """``windows``, ``macos`` or ``linux`` (what ``?platform=`` expects)."""
    from zhishiyun.update.release import current_platform

    return current_platform()


def _exam_running(context: CheckContext) -> bool:
    """Whether this computer holds an exam whose time is still running."""
    from zhishiyun.active_session import load_active

    try:
        return load_active(context.settings.data_path) is not None
    except (AttributeError, OSError):
        return False


class VersionCheck(Check):
    """pass: up to date; warn: an update is available; fail: below the minimum version."""

    id = "version"
    title = N_("Software version")
    timeout_s = 10.0
    needs_server = True

    def run(self, context: CheckContext) -> CheckResult:
        """Ask ``GET /client/release`` and compare versions."""
        if not context.has_server:
            return no_server_result(self)
        current = context.client_version
        platform = platform_id()
        details: dict[str, object] = {"current": current, "platform": platform}
        try:
            reply = network.request_json(
                context.session, "GET", context.api_url(RELEASE_PATH),
                params={"platform": platform, "current": current},
                timeout=context.probe_timeout_s)
        except network.ProbeError as exc:
            if exc.kind in UNREACHABLE:
                return unreachable_result(self, exc)
            if exc.status == 404 and exc.kind == network.SERVER_ERROR:
                return self.result(
                    Status.PASS, _("Zhishiyun {current} is installed; the server offers no "
                                   "other version.").format(current=current), details=details)
            details.update(error=exc.kind, detail=exc.detail)
            return self.result(Status.WARN, _("The latest version could not be checked ({detail})."
                                              ).format(detail=exc.detail),
                               _("Try again later; the installed version keeps working."),
                               details)
        latest = _field(reply.data, "latest", "version", "latest_version")
        minimum = _field(reply.data, "minimum", "minimum_version") or "0"
        details.update(latest=latest, minimum=minimum)
        try:
            mine, newest, lowest = Version(current), Version(latest or current), Version(minimum)
        except InvalidVersion as exc:
            details["error"] = "bad_version"
            return self.result(Status.WARN, _("The server announced a version that cannot be "
                                              "compared ({error}).").format(error=exc),
                               _("Tell exam support; the installed version keeps working."),
                               details)
        if mine < lowest and _exam_running(context):
            details["after_exam"] = True  # never locks anyone out of a running exam
            return self.result(
                Status.WARN,
                _("Version {minimum} or later is required; it is installed right after the "
                  "exam that is running.").format(minimum=minimum),
                _("Go on with your exam; Zhishiyun updates when it ends."), details)
        if mine < lowest:
            return self.result(
                Status.FAIL,
                _("Zhishiyun {current} is too old: version {minimum} or later is required.")
                .format(current=current, minimum=minimum),
                _("Install the update to version {latest} (click Update, or download it from "
                  "the link in your exam notice), then start Zhishiyun again.").format(
                    latest=latest), details)
        if mine < newest:
            return self.result(
                Status.WARN,
                _("A newer version {latest} is available (installed: {current}).").format(
                    latest=latest, current=current),
                _("Update before the exam to get the latest fixes."), details)
        return self.result(Status.PASS, _("Zhishiyun {current} is up to date.").format(
            current=current), details=details)
