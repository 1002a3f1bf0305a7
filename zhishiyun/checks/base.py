"""The result model and the base class every check derives from.

A check is one class (``DiskCheck``, ``ServerCheck`` …) with a stable ``id``, a translatable
``title``, a ``timeout_s`` the runner enforces, and ``run(context) -> CheckResult``. Checks
never raise for a problem they can describe: they return a result whose ``message`` says what
is wrong in words a candidate can act on and whose ``fix`` says what to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar

from zhishiyun.i18n import _

if TYPE_CHECKING:  # pragma: no cover
    from zhishiyun.checks.context import CheckContext


class Status(str, Enum):
    """Outcome of one check. ``warn`` never blocks; ``fail`` does when the check is blocking."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"

    def __str__(self) -> str:
        return self.value


#: Worst first, for summaries.
SEVERITY = {Status.FAIL: 3, Status.WARN: 2, Status.SKIP: 1, Status.PASS: 0}


@dataclass
class CheckResult:
    """What one check found.

    Attributes:
        id: the check id (``disk``, ``server`` …).
        status: pass, warn, fail or skip.
        message: what was found, translated, fit for the candidate.
        details: machine-readable facts (numbers, device names) for QA and support.
        fix: what the candidate should do (empty when nothing is needed).
        duration_ms: how long the check ran (filled in by the runner).
        blocking: whether a failure of this check keeps the candidate out (runner fills it).
        title: the check's translated name, for tables and the GUI.
    """

    id: str
    status: Status
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    fix: str = ""
    duration_ms: int = 0
    blocking: bool = False
    title: str = ""

    @property
    def failed(self) -> bool:
        """True when the status is ``fail``."""
        return self.status is Status.FAIL

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``{id, status, message, details, fix}`` plus extra keys."""
        return {
            "id": self.id,
            "status": self.status.value,
            "message": self.message,
            "details": dict(self.details),
            "fix": self.fix,
            "title": self.title,
            "blocking": self.blocking,
            "duration_ms": self.duration_ms,
        }


class Check:
    """Base class: subclasses set ``id``, ``title``, ``timeout_s`` and implement ``run``."""

    #: Stable id used on the command line, in JSON and in ``blocking_checks``.
    id: ClassVar[str] = ""
    #: English title, translated with ``_()`` when shown (mark it with ``N_``).
    title: ClassVar[str] = ""
    #: Seconds the runner waits before reporting the check as timed out.
    timeout_s: ClassVar[float] = 5.0
    #: Whether the check cannot run at all without a server.
    needs_server: ClassVar[bool] = False

    def run(self, context: CheckContext) -> CheckResult:
        """Run the check and describe what was found."""
        raise NotImplementedError

    def translated_title(self) -> str:
        """The title in the current language."""
        return _(self.title)

    def result(self, status: Status, message: str, fix: str = "",
               details: Mapping[str, Any] | None = None) -> CheckResult:
        """Build a result for this check."""
        return CheckResult(id=self.id, status=status, message=message, fix=fix,
                           details=dict(details or {}), title=self.translated_title())

    def timed_out(self, seconds: float) -> CheckResult:
        """The result the runner reports when ``run`` did not finish in time."""
        return self.result(
            Status.FAIL,
            _("The {title} check did not finish within {seconds:g} s.").format(
                title=self.translated_title(), seconds=seconds),
            _("Run the checks again. If this keeps happening, restart the computer and "
              "contact exam support."),
            {"timed_out": True, "timeout_s": seconds},
        )


def gb(value_bytes: float) -> float:
    """Bytes to gigabytes (GiB, as operating systems show them), rounded to 0.1."""
    return round(value_bytes / 1024**3, 1)
