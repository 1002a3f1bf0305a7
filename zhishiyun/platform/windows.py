"""Windows: BIOS strings from the registry/WMI, RDP session metrics, thread execution state."""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from zhishiyun.platform.base import (
    VNC_SERVER_PROCESSES,
    KeepAwakeStatus,
    Platform,
    RemoteSessionReport,
    System,
    VmReport,
    held,
    ssh_evidence,
    vm_from_firmware,
)

log = logging.getLogger(__name__)

SM_REMOTESESSION = 0x1000
ES_CONTINUOUS = 0x80000000
ES_SYSTEM_REQUIRED = 0x00000001
ES_DISPLAY_REQUIRED = 0x00000002
BIOS_KEY = r"HARDWARE\DESCRIPTION\System\BIOS"
BIOS_VALUES = ("SystemManufacturer", "SystemProductName", "BIOSVendor", "BaseBoardManufacturer")
SYSTEM_SID = "S-1-5-18"
ADMINISTRATORS_SID = "S-1-5-32-544"
TERMINAL_SERVER_KEY = r"SYSTEM\CurrentControlSet\Control\Terminal Server"
#: Remote-control programs whose service may run with nobody connected.
REMOTE_SERVICE_PROCESSES = VNC_SERVER_PROCESSES + ("termsrv",)
CIM_COMMAND = ("powershell", "-NoProfile", "-NonInteractive", "-Command",
               "Get-CimInstance -ClassName Win32_ComputerSystem | "
               "Select-Object Manufacturer,Model,HypervisorPresent | ConvertTo-Json -Compress")


class WindowsSystem(System):
    """Windows's answers: the registry, user32/kernel32 calls."""

    def registry_value(self, key: str, name: str) -> object | None:
        """A value under HKEY_LOCAL_MACHINE, or None when the key or value is missing."""
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, key) as handle:
                return winreg.QueryValueEx(handle, name)[0]
        except OSError:
            return None

    def system_metric(self, index: int) -> int:
        """user32 GetSystemMetrics."""
        return int(ctypes.windll.user32.GetSystemMetrics(index))

    def session_id(self) -> int | None:
        """This process's Remote Desktop Services session (ProcessIdToSessionId)."""
        session = ctypes.c_uint32(0)
        ok = ctypes.windll.kernel32.ProcessIdToSessionId(os.getpid(), ctypes.byref(session))
        return session.value if ok else None

    def set_execution_state(self, flags: int) -> int:
        """kernel32 SetThreadExecutionState for the calling thread; 0 means refused."""
        func = ctypes.windll.kernel32.SetThreadExecutionState
        func.restype = ctypes.c_uint32
        func.argtypes = [ctypes.c_uint32]
        return int(func(flags))


class WindowsPlatform(Platform):
    """Windows 10 and 11."""

    name = "win32"
    system: WindowsSystem

    def __init__(self, system: WindowsSystem | None = None) -> None:
        super().__init__(system or WindowsSystem())

    def virtual_machine(self) -> VmReport:
        """BIOS manufacturer/model from the registry, else WMI's Win32_ComputerSystem.

        WMI's HypervisorPresent alone is only a hint: with Virtualization-Based Security
        a physical Windows 11 runs on Hyper-V too.
        """
        fields = {name: str(value) for name in BIOS_VALUES
                  if (value := self.system.registry_value(BIOS_KEY, name))}
        product, evidence = vm_from_firmware(fields, "bios")
        hints: list[str] = []
        if not fields or not product:
            cim = self._computer_system()
            wmi = {k: str(cim[k]) for k in ("Manufacturer", "Model") if cim.get(k)}
            found, more = vm_from_firmware(wmi, "Win32_ComputerSystem")
            product = product or found
            evidence += more
            if cim.get("HypervisorPresent") and not evidence:
                hints.append("Win32_ComputerSystem HypervisorPresent: True")
        return VmReport(virtual=bool(evidence), product=product, evidence=tuple(evidence),
                        hints=tuple(hints))

    def _computer_system(self) -> dict:
        result = self.system.run(CIM_COMMAND, timeout=20)
        if not result or result.returncode != 0:
            return {}
        try:
            data = json.loads(result.stdout)
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def remote_session(self) -> RemoteSessionReport:
        """SM_REMOTESESSION, the console (GlassSessionId) being another session, SESSIONNAME.

        Microsoft advises the GlassSessionId comparison as well as the metric: with RemoteFX
        the metric can be 0 in a remote session.
        """
        evidence = ssh_evidence(self.system.environ)
        if self.system.system_metric(SM_REMOTESESSION):
            evidence.append("GetSystemMetrics(SM_REMOTESESSION) is nonzero")
        glass = self.system.registry_value(TERMINAL_SERVER_KEY, "GlassSessionId")
        session = self.system.session_id()
        # session 0 holds the services (a CI runner's agent), never a remote desktop
        if isinstance(glass, int) and session and glass != session:
            evidence.append(f"session {session} is not the console session {glass}")
        name = self.system.environ.get("SESSIONNAME", "")
        if name.upper().startswith("RDP-"):
            evidence.append(f"SESSIONNAME={name}")
        running = self.system.process_names()
        hints = [f"process: {p}" for p in REMOTE_SERVICE_PROCESSES if p in running]
        return RemoteSessionReport(remote=bool(evidence), evidence=tuple(evidence),
                                   hints=tuple(hints))

    def make_private(self, path: Path) -> None:
        """An explicit ACL for this user, SYSTEM and Administrators; nothing inherited.

        Administrators stay in so the elevated uninstaller's ``/PURGE`` can remove the
        recordings (they could take ownership anyway); other users of the PC lose access.
        """
        user = self._user_sid()
        grants = [f"*{sid}:(OI)(CI)F" for sid in (user, SYSTEM_SID, ADMINISTRATORS_SID)]
        result = self.system.run(["icacls", str(path), "/inheritance:r", "/grant:r", *grants,
                                  "/Q"])
        if result is None or result.returncode != 0:
            detail = (result.stderr or result.stdout).strip() if result else "did not run"
            raise OSError(f"icacls {path}: {detail}")

    def _user_sid(self) -> str:
        result = self.system.run(["whoami", "/user", "/fo", "csv", "/nh"])
        sid = result.stdout.strip().rsplit(",", 1)[-1].strip('"') if result else ""
        if not result or result.returncode != 0 or not sid.startswith("S-1-"):
            raise OSError("cannot find this user's SID (whoami /user)")
        return sid

    def keep_awake(self, reason: str) -> contextlib.AbstractContextManager[KeepAwakeStatus]:
        """SetThreadExecutionState on a thread of its own for the whole block.

        The execution state belongs to the calling thread and ends with it, so one thread
        owns it: sets it, waits for the block to end, and clears it itself.
        """
        return held(self._hold_state)

    def _hold_state(self) -> tuple[KeepAwakeStatus, Callable[[], None]]:
        flags = ES_CONTINUOUS | ES_SYSTEM_REQUIRED | ES_DISPLAY_REQUIRED
        started, stop = threading.Event(), threading.Event()
        outcome: dict[str, int] = {}

        def own_state() -> None:
            try:
                outcome["previous"] = self.system.set_execution_state(flags)
            except OSError as exc:
                log.warning("SetThreadExecutionState failed: %s", exc)
            finally:
                started.set()
            if outcome.get("previous"):
                stop.wait()
                self.system.set_execution_state(ES_CONTINUOUS)

        thread = threading.Thread(target=own_state, name="keep-awake", daemon=True)
        thread.start()
        started.wait(5)
        if not outcome.get("previous"):
            return KeepAwakeStatus(False, reason="SetThreadExecutionState refused"), \
                lambda: None

        def release() -> None:
            stop.set()
            thread.join(5)

        return KeepAwakeStatus(True, method="SetThreadExecutionState", display=True), release
