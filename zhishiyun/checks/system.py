"""``os``: a supported operating system, and on macOS the privacy permissions we need.

Windows 10 and later and macOS 12 and later are supported; Linux works for development and
QA and is reported as such (a warning, never a failure). On macOS the screen-recording and
camera permissions are read where the system lets us (CoreGraphics / AVFoundation through
ctypes); where they cannot be read they are reported as unknown.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
import sys
from dataclasses import dataclass

from zhishiyun.checks.base import Check, CheckResult, Status
from zhishiyun.checks.context import CheckContext
from zhishiyun.i18n import N_, _

MIN_WINDOWS_MAJOR = 10
MIN_MACOS_MAJOR = 12
WINDOWS_11_BUILD = 22000


@dataclass(frozen=True)
class PlatformInfo:
    """The facts the check judges: ``system`` is ``Windows``, ``Darwin`` or ``Linux``.

    ``version`` is the marketing version (``10.0.22631`` on Windows, ``14.2`` on macOS,
    the kernel release on Linux); ``screen_permission``/``camera_permission`` are
    ``granted``, ``denied``, ``not_determined`` or ``unknown`` (macOS only).
    """

    system: str
    version: str
    name: str = ""
    screen_permission: str = "unknown"
    camera_permission: str = "unknown"

    @classmethod
    def current(cls) -> PlatformInfo:
        """Read the running system."""
        system = platform.system()
        if system == "Windows":  # pragma: no cover - Windows only
            win = sys.getwindowsversion()
            version = f"{win.major}.{win.minor}.{win.build}"
            label = "11" if win.major == 10 and win.build >= WINDOWS_11_BUILD else str(win.major)
            return cls(system, version, f"Windows {label} (build {win.build})")
        if system == "Darwin":  # pragma: no cover - macOS only
            version = platform.mac_ver()[0]
            return cls(system, version, f"macOS {version}", _mac_screen_permission(),
                       _mac_camera_permission())
        name = f"{system} {platform.release()}"
        try:
            os_release = platform.freedesktop_os_release()
            name = f"{os_release.get('PRETTY_NAME', system)} ({platform.release()})"
        except (OSError, AttributeError):
            pass
        return cls(system, platform.release(), name)


def _major(version: str) -> int:
    try:
        return int(version.split(".")[0])
    except ValueError:
        return 0


def _mac_screen_permission() -> str:  # pragma: no cover - macOS only
    try:
        cg = ctypes.cdll.LoadLibrary(ctypes.util.find_library("CoreGraphics") or
                                     "/System/Library/Frameworks/CoreGraphics.framework/"
                                     "CoreGraphics")
        preflight = cg.CGPreflightScreenCaptureAccess
        preflight.restype = ctypes.c_bool
        return "granted" if preflight() else "denied"
    except (OSError, AttributeError):
        return "unknown"


def _mac_camera_permission() -> str:  # pragma: no cover - macOS only
    try:
        objc = ctypes.cdll.LoadLibrary(ctypes.util.find_library("objc"))
        ctypes.cdll.LoadLibrary("/System/Library/Frameworks/AVFoundation.framework/AVFoundation")
        objc.objc_getClass.restype = ctypes.c_void_p
        objc.objc_getClass.argtypes = [ctypes.c_char_p]
        objc.sel_registerName.restype = ctypes.c_void_p
        objc.sel_registerName.argtypes = [ctypes.c_char_p]
        send = objc.objc_msgSend
        send.restype = ctypes.c_void_p
        send.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p]
        media = send(objc.objc_getClass(b"NSString"),
                     objc.sel_registerName(b"stringWithUTF8String:"), b"vide")
        send.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        send.restype = ctypes.c_long
        status = send(objc.objc_getClass(b"AVCaptureDevice"),
                      objc.sel_registerName(b"authorizationStatusForMediaType:"), media)
        return {0: "not_determined", 1: "denied", 2: "denied", 3: "granted"}.get(status,
                                                                                  "unknown")
    except (OSError, AttributeError, TypeError):
        return "unknown"


class OsCheck(Check):
    """Supported operating system and (macOS) privacy permissions.

    Args:
        info: the platform to judge (default: the running one).
    """

    id = "os"
    title = N_("Operating system")
    timeout_s = 3.0

    def __init__(self, info: PlatformInfo | None = None) -> None:
        self.info = info

    def run(self, context: CheckContext) -> CheckResult:
        """Judge the operating system and version."""
        info = self.info or PlatformInfo.current()
        details = {"system": info.system, "version": info.version, "name": info.name}
        if info.system == "Windows":
            if _major(info.version) < MIN_WINDOWS_MAJOR:
                return self._unsupported(info, "Windows 10", details)
            return self.result(Status.PASS, _("{name} is supported.").format(name=info.name),
                               details=details)
        if info.system == "Darwin":
            if _major(info.version) < MIN_MACOS_MAJOR:
                return self._unsupported(info, "macOS 12", details)
            return self._mac_permissions(info, details)
        return self.result(
            Status.WARN,
            _("{name}: Linux works for development and QA only; candidates take exams on "
              "Windows 10 or later or macOS 12 or later.").format(name=info.name),
            _("Candidates: use a Windows or Mac computer for the exam."), details)

    def _unsupported(self, info: PlatformInfo, minimum: str, details: dict) -> CheckResult:
        return self.result(
            Status.FAIL,
            _("{name} is too old; Zhishiyun needs {minimum} or later.").format(
                name=info.name, minimum=minimum),
            _("Update the operating system or use another computer for the exam."), details)

    def _mac_permissions(self, info: PlatformInfo, details: dict) -> CheckResult:
        details.update(screen_permission=info.screen_permission,
                       camera_permission=info.camera_permission)
        missing = []
        if info.screen_permission == "denied":
            missing.append(_("Screen Recording"))
        if info.camera_permission == "denied":
            missing.append(_("Camera"))
        if missing:
            return self.result(
                Status.FAIL,
                _("{name}: Zhishiyun is not allowed to use: {what}.").format(
                    name=info.name, what=", ".join(missing)),
                _("Open System Settings → Privacy & Security, turn Zhishiyun on under {what}, "
                  "then quit and reopen Zhishiyun.").format(what=", ".join(missing)), details)
        return self.result(Status.PASS, _("{name} is supported.").format(name=info.name),
                           details=details)
