"""``display``: exactly one monitor (more are not allowed; none at all cannot be recorded)."""

from __future__ import annotations

from zhishiyun.checks.base import Check, CheckResult, Status
from zhishiyun.checks.context import CheckContext
from zhishiyun.i18n import N_, _

#: A screen smaller than this (either side, pixels) makes papers hard to read: a warning.
MIN_WIDTH, MIN_HEIGHT = 1024, 720


class DisplayCheck(Check):
    """Counts monitors (mss) against ``max_displays``; warns about a very small screen."""

    id = "display"
    title = N_("Monitors")
    timeout_s = 5.0

    def run(self, context: CheckContext) -> CheckResult:
        """Count the monitors."""
        from zhishiyun.capture.devices import list_screens
        from zhishiyun.capture.errors import DeviceError

        allowed = context.thresholds.max_displays
        try:
            screens = list_screens()
        except DeviceError as exc:
            return self.result(Status.FAIL, exc.message, exc.hint, {"error": exc.code})
        details: dict[str, object] = {
            "count": len(screens), "max_displays": allowed,
            "screens": [{"name": s.name, "width": s.width, "height": s.height,
                         "primary": s.is_primary} for s in screens]}
        if not screens:
            return self.result(
                Status.FAIL, _("No monitor was found, so the screen cannot be recorded."),
                _("Connect a monitor (or turn the built-in screen on), sign in to the desktop "
                  "session and run the check again."), details)
        if len(screens) > allowed:
            return self.result(
                Status.FAIL,
                _("{count} monitors are connected; only {allowed} is allowed.").format(
                    count=len(screens), allowed=allowed),
                _("Unplug the extra monitors (and turn off screen mirroring or extending), then "
                  "run the check again."), details)
        small = [s for s in screens if s.width < MIN_WIDTH or s.height < MIN_HEIGHT]
        if small:
            screen = small[0]
            return self.result(
                Status.WARN,
                _("The screen is only {width}×{height}; exam papers may be hard to read.").format(
                    width=screen.width, height=screen.height),
                _("Use a larger screen resolution (at least {w}×{h}) in the display settings.")
                .format(w=MIN_WIDTH, h=MIN_HEIGHT), details)
        return self.result(Status.PASS, _("One monitor, {width}×{height}.").format(
            width=screens[0].width, height=screens[0].height), details=details)
