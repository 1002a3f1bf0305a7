"""The interface every platform module implements, and the answers it gives.

A platform module (``linux``, ``macos``, ``windows``) turns what its operating system says
into these plain reports. It asks the system only through a :class:`System` object, so the
unit tests hand it recorded answers and run on every OS, while the integration tests let
it ask the real system on its own OS.
"""

from __future__ import annotations

import abc
import contextlib
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

#: Seconds any one system command may take before the probe gives up on it.
COMMAND_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class VmReport:
    """Whether the exam runs inside a virtual machine.

    Attributes:
        virtual: True when the hardware identifies itself as a virtual machine.
        product: The hypervisor or cloud it names ("VMware", "QEMU", ...), "" if unknown.
        evidence: What showed it, one phrase each (``"dmi sys_vendor: QEMU"``).
        hints: Signs that alone do not prove a VM (a hypervisor under Windows VBS, a
            container), for the proctor's notes.
    """

    virtual: bool
    product: str = ""
    evidence: tuple[str, ...] = ()
    hints: tuple[str, ...] = ()


@dataclass(frozen=True)
class RemoteSessionReport:
    """Whether someone could be operating or watching this desktop from elsewhere.

    Attributes:
        remote: True when this session is itself remote (RDP, SSH, a forwarded X display)
            or a screen-sharing server is serving it right now.
        evidence: What showed it, one phrase each.
        hints: Remote-access services that are running but not necessarily connected.
    """

    remote: bool
    evidence: tuple[str, ...] = ()
    hints: tuple[str, ...] = ()


@dataclass(frozen=True)
class PowerStatus:
    """Battery state; ``has_battery`` is False on desktops and most virtual machines.

    Attributes:
        has_battery: Whether the system reports a battery at all.
        percent: Charge in percent, None without a battery.
        plugged: True on mains power (also True without a battery).
        seconds_left: Estimated runtime on battery, None when unknown or charging.
    """

    has_battery: bool
    percent: float | None = None
    plugged: bool = True
    seconds_left: int | None = None

    @property
    def on_battery(self) -> bool:
        """Running from the battery right now."""
        return self.has_battery and not self.plugged


@dataclass
class KeepAwakeStatus:
    """What a keep-awake request achieved; recording goes on either way.

    Attributes:
        active: True while the system promised not to sleep or blank the display.
        method: How ("SetThreadExecutionState", "IOPMAssertion", "caffeinate",
            "logind", "systemd-inhibit"), "" when nothing worked.
        reason: Why it is not active (English, for the log and diagnostics).
        display: Whether the display is kept on too, not only the system.
    """

    active: bool
    method: str = ""
    reason: str = ""
    display: bool = False


@dataclass(frozen=True)
class CommandResult:
    """Exit code and output of a system command."""

    returncode: int
    stdout: str
    stderr: str = ""


class System:
    """The real operating system's answers: files, environment, processes, commands.

    Tests replace it with one that returns recorded answers (``tests/platform/fakes.py``).
    """

    @property
    def environ(self) -> Mapping[str, str]:
        """The process environment."""
        return os.environ

    def read_text(self, path: str) -> str | None:
        """A small system file's text, or None when it is missing or unreadable."""
        try:
            return Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None

    def exists(self, path: str) -> bool:
        """Whether a path exists."""
        return os.path.exists(path)

    def which(self, program: str) -> str | None:
        """The full path of a program on PATH, or None."""
        return shutil.which(program)

    def run(self, argv: Sequence[str], timeout: float = COMMAND_TIMEOUT_S) -> CommandResult | None:
        """Run a command and capture its output; None when it cannot be run or times out."""
        try:
            done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                                  errors="replace", check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            log.debug("%s could not run: %s", argv[0], exc)
            return None
        return CommandResult(done.returncode, done.stdout, done.stderr)

    def process_names(self) -> set[str]:
        """Lower-case names of running processes, ``.exe`` removed."""
        names = set()
        for proc in psutil.process_iter(["name"]):
            name = (proc.info.get("name") or "").lower()
            if name:
                names.add(name.removesuffix(".exe"))
        return names

    def battery(self) -> object | None:
        """The battery as psutil reports it (percent, secsleft, power_plugged), or None."""
        try:
            return psutil.sensors_battery()
        except (OSError, RuntimeError, NotImplementedError, AttributeError) as exc:
            log.debug("battery unknown: %s", exc)
            return None


#: Substrings of firmware vendor / model strings that name a virtual machine, and the
#: product reported for each. Matched case-insensitively as whole words.
VM_MARKERS: tuple[tuple[str, str], ...] = (
    (r"vmware", "VMware"),
    (r"virtualbox|innotek", "VirtualBox"),
    (r"qemu", "QEMU"),
    (r"kvm", "KVM"),
    (r"bochs", "Bochs"),
    (r"xen|hvm domu", "Xen"),
    (r"parallels", "Parallels"),
    (r"virtual ?machine", "Hyper-V"),
    (r"virtualmac\d*(,\d+)?|apple virtuali[sz]ation", "Apple Virtualization"),
    (r"amazon ec2", "Amazon EC2"),
    (r"google compute engine", "Google Compute Engine"),
    (r"openstack", "OpenStack"),
    (r"alibaba cloud|aliyun", "Alibaba Cloud ECS"),
    (r"tencent cloud", "Tencent Cloud CVM"),
    (r"digitalocean", "DigitalOcean"),
    (r"utm", "UTM"),
)
# letters must not continue the word; digits may ("VMware7,1", "VirtualMac2,1")
_VM_PATTERNS = tuple((re.compile(rf"(?<![a-z])(?:{p})(?![a-z])", re.IGNORECASE), n)
                     for p, n in VM_MARKERS)


def vm_product(text: str) -> str:
    """The virtual-machine product a firmware string names, or "" for real hardware."""
    for pattern, product in _VM_PATTERNS:
        if pattern.search(text or ""):
            return product
    return ""


def vm_from_firmware(fields: Mapping[str, str], source: str) -> tuple[str, list[str]]:
    """Check firmware fields (vendor, model, ...) for VM names.

    Returns:
        The first product found ("" for none) and one evidence phrase per matching field.
    """
    product, evidence = "", []
    for key, value in fields.items():
        found = vm_product(value)
        if found:
            product = product or found
            evidence.append(f"{source} {key}: {value.strip()}")
    return product, evidence


def power_from_battery(battery: object | None) -> PowerStatus:
    """Turn psutil's battery tuple into a :class:`PowerStatus`."""
    if battery is None:
        return PowerStatus(has_battery=False)
    percent = getattr(battery, "percent", None)
    plugged = getattr(battery, "power_plugged", None)
    secs = getattr(battery, "secsleft", None)
    # psutil uses negative sentinels: POWER_TIME_UNLIMITED (charging) / UNKNOWN
    seconds_left = int(secs) if isinstance(secs, (int, float)) and secs >= 0 else None
    return PowerStatus(has_battery=True, percent=None if percent is None else float(percent),
                       plugged=True if plugged is None else bool(plugged),
                       seconds_left=None if plugged else seconds_left)


#: Remote-desktop and VNC servers: running one means the screen can be served elsewhere.
VNC_SERVER_PROCESSES = ("x11vnc", "xvnc", "xtigervnc", "x0vncserver", "tvnserver", "winvnc",
                        "vncserver", "vncserver-x11", "vncserverui", "krfb")


def ssh_evidence(environ: Mapping[str, str]) -> list[str]:
    """Evidence that this process was started from an SSH login."""
    return [f"{var} is set" for var in ("SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY")
            if environ.get(var)]


class Platform(abc.ABC):
    """What one operating system can tell about, and do for, an exam in progress."""

    #: ``sys.platform``-style name: "linux", "darwin" or "win32".
    name: str = ""

    def __init__(self, system: System | None = None) -> None:
        self.system = system or System()

    @abc.abstractmethod
    def virtual_machine(self) -> VmReport:
        """Whether this computer is a virtual machine."""

    @abc.abstractmethod
    def remote_session(self) -> RemoteSessionReport:
        """Whether this desktop is remote or being served to someone else."""

    @abc.abstractmethod
    def keep_awake(self, reason: str) -> contextlib.AbstractContextManager[KeepAwakeStatus]:
        """Keep the system and display awake while the block runs (never raises)."""

    def power(self) -> PowerStatus:
        """Battery and mains state."""
        return power_from_battery(self.system.battery())

    def make_private(self, path: Path) -> None:
        """Let only this OS user (and the system itself) open ``path``, a directory.

        POSIX: mode 0700. Raises OSError when the permissions cannot be set.
        """
        os.chmod(path, 0o700)


@contextlib.contextmanager
def held(acquire: Callable[[], tuple[KeepAwakeStatus, Callable[[], None]]]
         ) -> Iterator[KeepAwakeStatus]:
    """Run ``acquire`` (which returns a status and its release), yield, then release.

    Any failure while acquiring or releasing is logged and reported in the status, never
    raised: sleep prevention must not stop a recording.
    """
    try:
        status, release = acquire()
    except Exception as exc:  # noqa: BLE001 - a keep-awake failure must not end the exam
        log.warning("keep-awake failed: %s", exc)
        status, release = KeepAwakeStatus(False, reason=str(exc)), lambda: None
    if status.active:
        log.info("keep-awake active (%s)", status.method)
    else:
        log.warning("keep-awake unavailable: %s", status.reason)
    try:
        yield status
    finally:
        try:
            release()
        except Exception as exc:  # noqa: BLE001 - see above
            log.warning("keep-awake release failed: %s", exc)
        status.active = False


__all__ = [
    "COMMAND_TIMEOUT_S", "CommandResult", "KeepAwakeStatus", "Platform", "PowerStatus",
    "RemoteSessionReport", "System", "VmReport",
]
