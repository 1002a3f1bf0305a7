"""Helpers for the benchmarks: run child processes and measure their CPU and memory.

``measure`` starts commands side by side, samples each one's resident memory (RSS) about
once a second while it runs, and returns, per command, the exit code, CPU seconds
(user + system, from ``wait4``/psutil), peak and final RSS, the RSS samples and stdout.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

import psutil

SAMPLE_SECONDS = 1.0


@dataclass
class ChildResult:
    """What one measured child process did."""

    code: int = 0
    cpu_seconds: float = 0.0
    peak_rss_mb: float = 0.0
    end_rss_mb: float = 0.0
    #: ``(seconds since start, RSS MB)`` about once a second.
    rss_samples: list[tuple[float, float]] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""

    def rss_at(self, seconds: float) -> float | None:
        """The RSS sampled closest before ``seconds`` after start (None if none)."""
        before = [mb for t, mb in self.rss_samples if t <= seconds]
        return before[-1] if before else None


def _rss_mb(proc: psutil.Process) -> float | None:
    try:
        return proc.memory_info().rss / 2**20
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def measure(commands: list[list[str]], **popen) -> list[ChildResult]:
    """Run ``commands`` at the same time; wait for all; measure each (see module doc)."""
    started = time.monotonic()
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)
             for cmd in commands]
    results = [ChildResult() for _ in procs]
    outputs: list[list[bytes]] = [[b"", b""] for _ in procs]

    def drain(index: int, stream: int) -> None:
        pipe = procs[index].stdout if stream == 0 else procs[index].stderr
        outputs[index][stream] = pipe.read()

    readers = [threading.Thread(target=drain, args=(i, s), daemon=True)
               for i in range(len(procs)) for s in (0, 1)]
    for reader in readers:
        reader.start()
    watched = [psutil.Process(p.pid) for p in procs]
    last_cpu = [0.0] * len(procs)
    running = set(range(len(procs)))
    while running:
        for index in list(running):
            if _reaped(procs[index], results[index]):
                running.discard(index)
                continue
            mb = _rss_mb(watched[index])
            if mb is not None:
                results[index].rss_samples.append((round(time.monotonic() - started, 1),
                                                   round(mb, 1)))
            try:  # where wait4 cannot tell, the last sample is the best estimate
                times = watched[index].cpu_times()
                last_cpu[index] = times.user + times.system
            except psutil.Error:
                pass
        if running:
            time.sleep(SAMPLE_SECONDS)
    for reader in readers:
        reader.join()
    for index, result in enumerate(results):
        result.stdout = outputs[index][0].decode(errors="replace")
        result.stderr = outputs[index][1].decode(errors="replace")
        result.cpu_seconds = result.cpu_seconds or last_cpu[index]
        sampled = [mb for _, mb in result.rss_samples]
        result.peak_rss_mb = round(max([result.peak_rss_mb] + sampled), 1)
        result.end_rss_mb = sampled[-1] if sampled else result.peak_rss_mb
        if result.code != 0:
            sys.stderr.write(result.stderr[-2000:])
    return results


def _reaped(proc: subprocess.Popen, result: ChildResult) -> bool:
    """Reap ``proc`` if it ended, keeping its CPU time and peak RSS (``wait4`` on POSIX)."""
    if not hasattr(os, "wait4"):  # Windows
        if proc.poll() is None:
            return False
        result.code = proc.returncode
        return True
    pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
    if pid == 0:
        return False
    proc.returncode = result.code = os.waitstatus_to_exitcode(status)
    scale = 2**20 if sys.platform == "darwin" else 2**10
    result.cpu_seconds = usage.ru_utime + usage.ru_stime
    result.peak_rss_mb = usage.ru_maxrss / scale
    return True
