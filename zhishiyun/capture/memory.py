"""Keeping the recorder's resident memory flat over hours (glibc only; elsewhere no-ops).

Each segment has its own encoder; an x264 encoder for a 1080p screen holds about 45 MB.
When a segment closes, glibc keeps most of that memory in its heaps for later, so a
recording's resident memory grew at each segment boundary (measured: 99, 116, 131 MB after
the first three 1080p encoders were freed; with ``malloc_trim`` 83 MB each time).

glibc also raises its mmap threshold each time a large block is freed, after which 8 MB
screenshots and encoder planes come from the heaps, fragment them and are never returned:
a 60 s recording of a changing screen grew from 209 to 221 MB. A fixed 1 MiB threshold
(glibc's own default is 128 KiB until the first such free) keeps large blocks in their own
mappings, given back on free: the same recording stayed between 177 and 194 MB.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 1 << 20

_trim = _mallopt = None
if sys.platform.startswith("linux"):
    try:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        _trim = getattr(_libc, "malloc_trim", None)  # glibc; absent from musl
        _mallopt = getattr(_libc, "mallopt", None) if _trim is not None else None
    except OSError:
        _trim = _mallopt = None
    if _trim is not None:
        _trim.argtypes, _trim.restype = [ctypes.c_size_t], ctypes.c_int
    if _mallopt is not None:
        _mallopt.argtypes, _mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int


def map_large_blocks() -> None:
    """Serve (and return) every block of 1 MiB or more as its own mapping (see above)."""
    if _mallopt is not None:
        _mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def release_free_memory() -> None:
    """Return the C heap's free pages to the OS (a few ms; call after freeing a lot)."""
    if _trim is not None:
        try:
            _trim(0)
        except OSError:
            log.debug("malloc_trim failed", exc_info=True)
