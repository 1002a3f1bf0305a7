"""Linux: /proc and /sys for the hardware, the environment for remote logins, logind for sleep."""

from __future__ import annotations

import contextlib
import logging
import os
import select
import subprocess
from collections.abc import Callable

from zhishiyun.platform.base import (
    VNC_SERVER_PROCESSES,
    KeepAwakeStatus,
    Platform,
    RemoteSessionReport,
    VmReport,
    held,
    ssh_evidence,
    vm_from_firmware,
    vm_product,
)

log = logging.getLogger(__name__)

DMI_DIR = "/sys/class/dmi/id"
DMI_FIELDS = ("sys_vendor", "product_name", "product_version", "board_vendor", "bios_vendor",
              "chassis_vendor")
CONTAINER_MARKERS = (("/.dockerenv", "docker"), ("/run/.containerenv", "podman"))
#: Processes that exist only while a remote desktop session is being served.
REMOTE_SESSION_PROCESSES = VNC_SERVER_PROCESSES + ("xrdp-chansrv", "xorgxrdp")
#: Remote-desktop services that may be running with nobody connected.
REMOTE_SERVICE_PROCESSES = ("xrdp", "xrdp-sesman", "vino-server", "gnome-remote-desktop",
                            "gnome-remote-desktop-daemon")
INHIBIT_WHAT = "sleep:idle"
#: Seconds to wait for systemd-inhibit to take the lock.
INHIBIT_START_TIMEOUT_S = 5.0


def display_is_forwarded(display: str) -> bool:
    """True for an X display on another host or an SSH tunnel (``localhost:10.0``)."""
    host, sep, _rest = display.rpartition(":")
    return bool(sep) and host not in ("", "unix") and not host.startswith("/")


class LinuxPlatform(Platform):
    """Linux desktops (X11 or Wayland) with systemd-logind."""

    name = "linux"

    def virtual_machine(self) -> VmReport:
        """The CPU's hypervisor flag, DMI vendor/model strings and systemd-detect-virt."""
        sys_ = self.system
        evidence: list[str] = []
        hints: list[str] = []
        cpuinfo = sys_.read_text("/proc/cpuinfo") or ""
        flags = set()
        for line in cpuinfo.splitlines():
            if line.startswith(("flags", "Features")):
                flags.update(line.partition(":")[2].split())
        if "hypervisor" in flags:
            evidence.append("cpu flag: hypervisor")
        dmi = {f: text.strip() for f in DMI_FIELDS
               if (text := sys_.read_text(f"{DMI_DIR}/{f}")) and text.strip()}
        product, firmware = vm_from_firmware(dmi, "dmi")
        evidence += firmware
        if sys_.which("systemd-detect-virt"):
            result = sys_.run(["systemd-detect-virt", "--vm"])
            name = result.stdout.strip() if result else ""
            if result and result.returncode == 0 and name and name != "none":
                evidence.append(f"systemd-detect-virt: {name}")
                product = product or vm_product(name) or name
        for marker, kind in CONTAINER_MARKERS:
            if sys_.exists(marker):
                hints.append(f"container: {kind} ({marker})")
        return VmReport(virtual=bool(evidence), product=product, evidence=tuple(evidence),
                        hints=tuple(hints))

    def remote_session(self) -> RemoteSessionReport:
        """SSH variables, a forwarded X display, logind's Remote flag, VNC/RDP servers."""
        env = self.system.environ
        evidence = ssh_evidence(env)
        display = env.get("DISPLAY", "")
        if display and display_is_forwarded(display):
            evidence.append(f"forwarded X display: DISPLAY={display}")
        session = env.get("XDG_SESSION_ID")
        if session and self.system.which("loginctl"):
            result = self.system.run(["loginctl", "show-session", session, "-p", "Remote",
                                      "--value"])
            if result and result.returncode == 0 and result.stdout.strip() == "yes":
                evidence.append(f"logind session {session} is remote")
        running = self.system.process_names()
        evidence += [f"process: {p}" for p in REMOTE_SESSION_PROCESSES if p in running]
        hints = [f"process: {p}" for p in REMOTE_SERVICE_PROCESSES if p in running]
        return RemoteSessionReport(remote=bool(evidence), evidence=tuple(evidence),
                                   hints=tuple(hints))

    def keep_awake(self, reason: str) -> contextlib.AbstractContextManager[KeepAwakeStatus]:
        """A logind block inhibitor for sleep and idle, over D-Bus or via systemd-inhibit."""
        return held(lambda: self._inhibit(reason))

    def _inhibit(self, reason: str) -> tuple[KeepAwakeStatus, Callable[[], None]]:
        failures = []
        try:
            return _logind_inhibit(reason)
        except Exception as exc:  # noqa: BLE001 - jeepney raises many kinds; try the next way
            failures.append(f"logind over D-Bus: {exc}")
        if self.system.which("systemd-inhibit"):
            status, release = _systemd_inhibit(reason)
            if status.active:
                return status, release
            failures.append(f"systemd-inhibit: {status.reason}")
        else:
            failures.append("systemd-inhibit: not installed")
        return KeepAwakeStatus(False, reason="; ".join(failures)), lambda: None


def _logind_inhibit(reason: str) -> tuple[KeepAwakeStatus, Callable[[], None]]:
    """Ask logind directly; the inhibitor lasts as long as the returned file descriptor."""
    from jeepney import DBusAddress, new_method_call
    from jeepney.io.blocking import open_dbus_connection
    from jeepney.wrappers import unwrap_msg

    login1 = DBusAddress("/org/freedesktop/login1", bus_name="org.freedesktop.login1",
                         interface="org.freedesktop.login1.Manager")
    try:
        conn = open_dbus_connection(bus="SYSTEM", enable_fds=True)
    except (OSError, ValueError, KeyError) as exc:
        raise RuntimeError(f"the system D-Bus is unreachable ({exc})") from exc
    with contextlib.closing(conn):
        reply = conn.send_and_get_reply(
            new_method_call(login1, "Inhibit", "ssss",
                            (INHIBIT_WHAT, "Zhishiyun", reason, "block")), timeout=5)
    fd = unwrap_msg(reply)[0].to_raw_fd()
    screensaver = _screensaver_inhibit(reason)

    def release() -> None:
        os.close(fd)
        screensaver()

    return KeepAwakeStatus(True, method="logind", display=screensaver is not _nothing), release


def _nothing() -> None:
    return None


def _screensaver_inhibit(reason: str) -> Callable[[], None]:
    """Ask the desktop's screen saver (session bus) not to blank; a no-op without one.

    logind's idle lock stops the idle action; blanking the screen is the desktop's own
    decision, and it holds the inhibition only while this connection stays open.
    """
    from jeepney import DBusAddress, new_method_call
    from jeepney.io.blocking import open_dbus_connection
    from jeepney.wrappers import unwrap_msg

    saver = DBusAddress("/org/freedesktop/ScreenSaver", bus_name="org.freedesktop.ScreenSaver",
                        interface="org.freedesktop.ScreenSaver")
    try:
        conn = open_dbus_connection(bus="SESSION")
    except Exception as exc:  # noqa: BLE001 - no session bus: nothing to ask
        log.debug("no session bus for the screen saver: %s", exc)
        return _nothing
    try:
        (cookie,) = unwrap_msg(conn.send_and_get_reply(
            new_method_call(saver, "Inhibit", "ss", ("Zhishiyun", reason)), timeout=3))
    except Exception as exc:  # noqa: BLE001 - no screen saver service on this desktop
        log.debug("screen saver inhibit refused: %s", exc)
        conn.close()
        return _nothing

    def release() -> None:
        with contextlib.suppress(Exception):
            conn.send_and_get_reply(new_method_call(saver, "UnInhibit", "u", (cookie,)),
                                    timeout=3)
        conn.close()

    return release


def _systemd_inhibit(reason: str) -> tuple[KeepAwakeStatus, Callable[[], None]]:
    """Hold the lock with a ``systemd-inhibit`` child that ends when our stdin pipe closes.

    The child prints a line once the lock is held, and ``cat`` exits when this process
    closes the pipe or dies, so no inhibitor outlives the client.
    """
    proc = subprocess.Popen(
        ["systemd-inhibit", f"--what={INHIBIT_WHAT}", "--who=Zhishiyun", f"--why={reason}",
         "--mode=block", "sh", "-c", "echo held; exec cat >/dev/null"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ready, _w, _x = select.select([proc.stdout], [], [], INHIBIT_START_TIMEOUT_S)
    line = proc.stdout.readline().strip() if ready else ""
    if line != "held":
        proc.kill()
        _out, err = proc.communicate(timeout=5)
        why = (err or "").strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
        return KeepAwakeStatus(False, reason=why[0]), lambda: None

    def release() -> None:
        proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        proc.stdout.close()
        proc.stderr.close()

    return KeepAwakeStatus(True, method="systemd-inhibit", display=True), release
