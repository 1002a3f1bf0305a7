"""Keeping the recorder's resident memory flat over hours (glibc only; elsewhere no-ops).

Each segment has its own encoder; an x264 encoder for a 1080p screen holds about 45 MB.
When a segment closes, glibc keeps most of that memory in its heaps for later, so a
recording's resident memory grew at each segment boundary (measured: 99, 116, 131 MB after
the first three 1080p encoders were freed; with ``malloc_trim`` 83 MB each time).

glibc also adjusts its thresholds as large blocks are freed: the mmap threshold rises,
and the trim threshold with it to twice that, so free memory at the top of the heaps is
no longer given back: a recording of a changing screen grew from 195 to 219 MB in 45 s.
Setting the mmap threshold explicitly stops the adjusting (the trim threshold stays at its
128 KiB default). 1 MiB kept that recording at 180-183 MB, but then every 8 MB screenshot
is a fresh mapping the kernel must fault in and zero: the grab thread's CPU went from 1.5 %
to 3.5 % of a core. 16 MiB (above a 1080p screenshot, which is then reused from the heap)
kept it at 188-208 MB without a trend at 2.6 %.

x264 rounds every allocation of 1.75 MB or more up to whole 2 MB huge pages and asks the
kernel for transparent huge pages there (``madvise``), which makes each such block
resident in full whether x264 touches it or not: 44 MB for a 1080p encoder, 39 MB with
huge pages off for the process (``PR_SET_THP_DISABLE``; the same encoding speed within
this machine's noise, 14.8-16.2 against 15.5-16.4 ms per frame).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 16 << 20
PR_SET_THP_DISABLE = 41

_trim = _mallopt = _prctl = None
if sys.platform.startswith("linux"):
    try:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        _trim = getattr(_libc, "malloc_trim", None)  # glibc; absent from musl
        _mallopt = getattr(_libc, "mallopt", None) if _trim is not None else None
    except OSError:
        _trim = _mallopt = None
    _prctl = getattr(_libc, "prctl", None) if _trim is not None else None
    if _trim is not None:
        _trim.argtypes, _trim.restype = [ctypes.c_size_t], ctypes.c_int
    if _mallopt is not None:
        _mallopt.argtypes, _mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int


def map_large_blocks() -> None:
    """Fix glibc's mmap threshold at 16 MiB, which stops its threshold adjusting (above)."""
    if _mallopt is not None:
        _mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def no_huge_pages() -> bool:
    """Turn transparent huge pages off for this process (Linux ≥ 3.15); True if done.

    Inherited by child processes; pages already huge stay so until freed.
    """
    if _prctl is None:
        return False
    return _prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0


def release_free_memory() -> None:
    """Return the C heap's free pages to the OS (a few ms; call after freeing a lot)."""
    if _trim is not None:
        try:
            _trim(0)
        except OSError:
            log.debug("malloc_trim failed", exc_info=True)
