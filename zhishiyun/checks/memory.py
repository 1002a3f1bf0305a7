"""``memory``: installed and available memory."""

from __future__ import annotations

import psutil

from zhishiyun.checks.base import Check, CheckResult, Status, gb
from zhishiyun.checks.context import CheckContext
from zhishiyun.i18n import N_, _


class MemoryCheck(Check):
    """Total memory (default 4 GB, else fail) and available memory (2 GB, else warn)."""

    id = "memory"
    title = N_("Memory")
    timeout_s = 3.0

    def run(self, context: CheckContext) -> CheckResult:
        """Compare total and available memory with the thresholds."""
        limits = context.thresholds
        mem = psutil.virtual_memory()
        total, available = gb(mem.total), gb(mem.available)
        details = {"total_gb": total, "available_gb": available,
                   "total_min_gb": limits.memory_total_min_gb,
                   "available_min_gb": limits.memory_available_min_gb,
                   "config_source": context.config_source}
        if total < limits.memory_total_min_gb:
            return self.result(
                Status.FAIL,
                _("This computer has {total:g} GB of memory; at least {need:g} GB is "
                  "needed.").format(total=total, need=limits.memory_total_min_gb),
                _("Take the exam on a computer with more memory."), details)
        if available < limits.memory_available_min_gb:
            return self.result(
                Status.WARN,
                _("Only {available:g} GB of memory is free; at least {need:g} GB should be "
                  "free.").format(available=available, need=limits.memory_available_min_gb),
                _("Close programs you do not need (browsers, games, video players), then run "
                  "the check again."), details)
        return self.result(
            Status.PASS,
            _("{total:g} GB of memory, {available:g} GB free.").format(
                total=total, available=available), details=details)
