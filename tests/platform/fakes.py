"""Recorded system answers for the platform modules, so their unit tests run on any OS."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from zhishiyun.platform.base import CommandResult, System
from zhishiyun.platform.macos import MacSystem
from zhishiyun.platform.windows import WindowsSystem


class FakeSystem(System):
    """Answers from dictionaries: files, environment, processes, command outputs."""

    def __init__(self, files: Mapping[str, str] | None = None,
                 environ: Mapping[str, str] | None = None,
                 processes: Sequence[str] = (), programs: Sequence[str] = (),
                 commands: Mapping[tuple[str, ...], CommandResult] | None = None,
                 battery: object | None = None) -> None:
        self.files = dict(files or {})
        self._environ = dict(environ or {})
        self.processes = {p.lower() for p in processes}
        self.programs = set(programs)
        self.commands = dict(commands or {})
        self._battery = battery
        self.ran: list[tuple[str, ...]] = []

    @property
    def environ(self) -> Mapping[str, str]:
        return self._environ

    def read_text(self, path: str) -> str | None:
        return self.files.get(path)

    def exists(self, path: str) -> bool:
        return path in self.files

    def which(self, program: str) -> str | None:
        return f"/usr/bin/{program}" if program in self.programs else None

    def run(self, argv, timeout=5.0):
        self.ran.append(tuple(argv))
        return self.commands.get(tuple(argv))

    def process_names(self) -> set[str]:
        return set(self.processes)

    def battery(self):
        return self._battery


class FakeMacSystem(FakeSystem, MacSystem):
    """macOS answers: sysctl values and IOKit assertions that are recorded, not made."""

    def __init__(self, sysctl: Mapping[str, str] | None = None, refuse_assertions: bool = False,
                 **kwargs) -> None:
        commands = {("sysctl", "-n", k): CommandResult(0, v + "\n") for k, v in
                    (sysctl or {}).items()}
        super().__init__(commands=commands, **kwargs)
        self.refuse = refuse_assertions
        self.assertions: dict[int, tuple[str, str]] = {}
        self.released: list[int] = []

    def run(self, argv, timeout=5.0):
        # sysctl answers "unknown oid" with exit code 1 for names it lacks
        return super().run(argv, timeout) or CommandResult(1, "", "unknown oid")

    def create_power_assertion(self, kind: str, name: str) -> int | None:
        if self.refuse:
            return None
        assertion = len(self.assertions) + 1
        self.assertions[assertion] = (kind, name)
        return assertion

    def release_power_assertion(self, assertion: int) -> None:
        self.released.append(assertion)


class FakeWindowsSystem(FakeSystem, WindowsSystem):
    """Windows answers: registry values, system metrics, session ids, execution states."""

    def __init__(self, registry: Mapping[tuple[str, str], object] | None = None,
                 metrics: Mapping[int, int] | None = None, session: int | None = 1,
                 refuse_state: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.registry = dict(registry or {})
        self.metrics = dict(metrics or {})
        self.session = session
        self.refuse_state = refuse_state
        #: (flags, thread ident) of each SetThreadExecutionState call
        self.states: list[tuple[int, int]] = []

    def registry_value(self, key: str, name: str) -> object | None:
        return self.registry.get((key, name))

    def system_metric(self, index: int) -> int:
        return self.metrics.get(index, 0)

    def session_id(self) -> int | None:
        return self.session

    def set_execution_state(self, flags: int) -> int:
        self.states.append((flags, threading.get_ident()))
        return 0 if self.refuse_state else 0x80000000
