"""Process memory on glibc: keep freed tensor buffers from staying resident.

glibc serves blocks below its mmap threshold from its heap and keeps freed heap memory mapped for reuse; the
threshold also grows by itself (up to 32 MB) each time a larger mmapped block is freed, so after a few steps nearly
every feature map lives in the heap and the heap's fragmentation shows up as resident memory nobody uses
(docs/model.md and docs/training.md measure how much, for inference and for a training step).
A fixed threshold stops the growth (big blocks are mmapped and returned on free); `trim_heap` hands free heap pages
back. The numbers computed are unchanged; only where the allocator puts them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number (malloc.h)
INFERENCE_MMAP_THRESHOLD = 128 * 1024  # glibc's initial threshold, pinned so frees no longer move it
_applied: int | None = None


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "gnu_get_libc_version") else None  # glibc only


def set_malloc_mmap_threshold(nbytes: int) -> bool:
    """mallopt(M_MMAP_THRESHOLD, nbytes) for the whole process (glibc on Linux; elsewhere nothing happens).

    Returns True when it was applied. Process-wide and idempotent; an environment variable MALLOC_MMAP_THRESHOLD_
    set by the user wins (this then does nothing).
    """
    global _applied
    if nbytes <= 0 or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    if _applied == nbytes:
        return True
    libc = _libc()
    if libc is None:
        return False
    ok = bool(libc.mallopt(ctypes.c_int(M_MMAP_THRESHOLD), ctypes.c_int(nbytes)))
    if ok:
        _applied = nbytes
    return ok


def trim_heap() -> bool:
    """malloc_trim(0): hand the free pages inside glibc's heap back to the system (glibc on Linux; else a no-op).

    Freed activations stay resident in the heap until reused; trimming before the backward pass and after each
    optimiser step keeps them from adding to the peak when the next phase cannot reuse them. Costs a heap walk
    and the page faults of re-touching the released pages."""
    libc = _libc()
    if libc is None or not hasattr(libc, "malloc_trim"):
        return False
    return bool(libc.malloc_trim(ctypes.c_size_t(0)))


__all__ = ["INFERENCE_MMAP_THRESHOLD", "set_malloc_mmap_threshold", "trim_heap"]
