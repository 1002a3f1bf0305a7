"""macOS: sysctl for the hardware, Screen Sharing processes, IOKit power assertions."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import subprocess
from collections.abc import Callable

from zhishiyun.platform.base import (
    VNC_SERVER_PROCESSES,
    KeepAwakeStatus,
    Platform,
    RemoteSessionReport,
    System,
    VmReport,
    held,
    ssh_evidence,
    vm_product,
)

log = logging.getLogger(__name__)

#: Present only while a Screen Sharing / Remote Management client is connected.
REMOTE_SESSION_PROCESSES = ("screensharingd", "applevncserver") + VNC_SERVER_PROCESSES
#: Remote Management (Apple Remote Desktop) is switched on; nobody need be connected.
REMOTE_SERVICE_PROCESSES = ("ardagent",)
#: Both IOKit assertion types: the display stays on and the system does not idle-sleep.
ASSERTION_TYPES = ("PreventUserIdleDisplaySleep", "PreventUserIdleSystemSleep")
IOKIT = "/System/Library/Frameworks/IOKit.framework/IOKit"
CORE_FOUNDATION = "/System/Library/Frameworks/CoreFoundation.framework/CoreFoundation"
_CF_UTF8 = 0x08000100
_ASSERTION_LEVEL_ON = 255


class MacSystem(System):
    """macOS's answers, plus IOKit's power assertions through ctypes."""

    def sysctl(self, name: str) -> str | None:
        """A sysctl value as text, None when the name does not exist here."""
        result = self.run(["sysctl", "-n", name])
        if result is None or result.returncode != 0:
            return None
        return result.stdout.strip()

    def create_power_assertion(self, kind: str, name: str) -> int | None:
        """IOPMAssertionCreateWithName; the assertion id, or None when refused."""
        iokit, cf = ctypes.CDLL(IOKIT), ctypes.CDLL(CORE_FOUNDATION)
        cf.CFStringCreateWithCString.restype = ctypes.c_void_p
        cf.CFStringCreateWithCString.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                                 ctypes.c_uint32]
        cf.CFRelease.argtypes = [ctypes.c_void_p]
        iokit.IOPMAssertionCreateWithName.restype = ctypes.c_int
        iokit.IOPMAssertionCreateWithName.argtypes = [ctypes.c_void_p, ctypes.c_uint32,
                                                      ctypes.c_void_p,
                                                      ctypes.POINTER(ctypes.c_uint32)]
        cf_kind = cf.CFStringCreateWithCString(None, kind.encode(), _CF_UTF8)
        cf_name = cf.CFStringCreateWithCString(None, name.encode(), _CF_UTF8)
        assertion = ctypes.c_uint32(0)
        try:
            code = iokit.IOPMAssertionCreateWithName(cf_kind, _ASSERTION_LEVEL_ON, cf_name,
                                                     ctypes.byref(assertion))
        finally:
            cf.CFRelease(cf_kind)
            cf.CFRelease(cf_name)
        if code != 0:
            log.debug("IOPMAssertionCreateWithName(%s) returned %#x", kind, code & 0xFFFFFFFF)
            return None
        return assertion.value

    def release_power_assertion(self, assertion: int) -> None:
        """IOPMAssertionRelease."""
        iokit = ctypes.CDLL(IOKIT)
        iokit.IOPMAssertionRelease.argtypes = [ctypes.c_uint32]
        iokit.IOPMAssertionRelease(assertion)


class MacPlatform(Platform):
    """macOS 12 and later, Intel or Apple silicon."""

    name = "darwin"
    system: MacSystem

    def __init__(self, system: MacSystem | None = None) -> None:
        super().__init__(system or MacSystem())

    def virtual_machine(self) -> VmReport:
        """``kern.hv_vm_present``, the VMM CPU feature (Intel) and the ``hw.model`` name."""
        evidence: list[str] = []
        product = ""
        if self.system.sysctl("kern.hv_vm_present") == "1":
            evidence.append("sysctl kern.hv_vm_present: 1")
        features = (self.system.sysctl("machdep.cpu.features") or "").split()
        if "VMM" in features:
            evidence.append("cpu feature: VMM")
        model = self.system.sysctl("hw.model") or ""
        if vm_product(model):
            product = vm_product(model)
            evidence.append(f"hw.model: {model}")
        if evidence and not product:
            product = "Apple Virtualization" if model.startswith("Virtual") else ""
        return VmReport(virtual=bool(evidence), product=product, evidence=tuple(evidence))

    def remote_session(self) -> RemoteSessionReport:
        """An SSH login, or Screen Sharing / VNC serving this screen; ARDAgent as a hint."""
        evidence = ssh_evidence(self.system.environ)
        running = self.system.process_names()
        evidence += [f"process: {p}" for p in REMOTE_SESSION_PROCESSES if p in running]
        hints = [f"process: {p}" for p in REMOTE_SERVICE_PROCESSES if p in running]
        return RemoteSessionReport(remote=bool(evidence), evidence=tuple(evidence),
                                   hints=tuple(hints))

    def keep_awake(self, reason: str) -> contextlib.AbstractContextManager[KeepAwakeStatus]:
        """IOKit power assertions named after ``reason``; ``caffeinate -w`` if IOKit refuses."""
        return held(lambda: self._assert(reason))

    def _assert(self, reason: str) -> tuple[KeepAwakeStatus, Callable[[], None]]:
        made: list[int] = []
        try:
            for kind in ASSERTION_TYPES:
                assertion = self.system.create_power_assertion(kind, f"Zhishiyun: {reason}")
                if assertion is None:
                    raise OSError(f"IOKit refused {kind}")
                made.append(assertion)
        except OSError as exc:
            for assertion in made:
                self.system.release_power_assertion(assertion)
            log.info("IOPMAssertion failed (%s); trying caffeinate", exc)
            return self._caffeinate(str(exc))

        def release() -> None:
            for assertion in made:
                self.system.release_power_assertion(assertion)

        return KeepAwakeStatus(True, method="IOPMAssertion", display=True), release

    def _caffeinate(self, iokit_failure: str) -> tuple[KeepAwakeStatus, Callable[[], None]]:
        if not self.system.which("caffeinate"):
            return KeepAwakeStatus(False, reason=f"{iokit_failure}; caffeinate not found"), \
                lambda: None
        # -w: caffeinate ends by itself if this process dies
        proc = subprocess.Popen(["caffeinate", "-d", "-i", "-w", str(os.getpid())],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)

        def release() -> None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)

        return KeepAwakeStatus(True, method="caffeinate", display=True), release
