"""Process memory on glibc: keep freed tensor buffers from staying resident.

glibc serves blocks below its mmap threshold from its heap and keeps freed heap memory mapped for reuse; the
threshold also grows by itself (up to 32 MB) each time a larger mmapped block is freed, so after a few steps nearly
every feature map lives in the heap and the heap's fragmentation shows up as resident memory nobody uses
(docs/model.md and docs/training.md measure how much, for inference and for a training step).
A fixed threshold stops the growth (big blocks are mmapped and returned on free) and keeps the trim threshold at its
128 KB (the growth doubles it with the mmap threshold, so up to 64 MB of free heap top stays mapped); `trim_heap`
hands free heap pages back. The numbers computed are unchanged; only where the allocator puts them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import mmap
import os
import sys

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number (malloc.h)
INFERENCE_MMAP_THRESHOLD = 128 * 1024  # low_memory: glibc's initial threshold, pinned so frees no longer move it
# low_memory with tensors on huge pages (`request_tensor_huge_pages`): fresh mappings fault in 2 MB at a time, so
# every block from 4 MB on can be one (ADE20k 256²: about the same peak as 128 KB, 1.1x instead of 1.4x the time)
HUGE_PAGE_INFERENCE_MMAP_THRESHOLD = 4 * 1024 * 1024
# default CPU inference: the ceiling glibc's threshold grows to by itself (64-bit), pinned from the start. Blocks go
# where the grown threshold puts them anyway (the same speed), but the heap's free top goes back to the system
DEFAULT_INFERENCE_MMAP_THRESHOLD = 32 * 1024 * 1024
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


TENSOR_HUGE_PAGES_ENV = "THP_MEM_ALLOC_ENABLE"  # PyTorch >= 2.2: tensors of 2 MB and more on transparent huge pages


def request_tensor_huge_pages() -> bool:
    """Ask PyTorch to back tensors of 2 MB and more with transparent huge pages (Linux, THP `madvise` or `always`).

    With a low mmap threshold (`low_memory`) every such tensor is a fresh mapping; faulting it in 2 MB pages
    instead of 4 KB ones is what makes that mode affordable. PyTorch reads the variable once, at its first
    allocation, so this works only before torch is imported (returns False after, or when the user set it)."""
    if "torch" in sys.modules or TENSOR_HUGE_PAGES_ENV in os.environ:
        return False
    os.environ[TENSOR_HUGE_PAGES_ENV] = "1"
    return True


def tensor_huge_pages_requested() -> bool:
    return os.environ.get(TENSOR_HUGE_PAGES_ENV) == "1"


def low_memory_mmap_threshold() -> int:
    """low_memory's pinned threshold: 4 MB when tensors sit on huge pages, else 128 KB."""
    return HUGE_PAGE_INFERENCE_MMAP_THRESHOLD if tensor_huge_pages_requested() else INFERENCE_MMAP_THRESHOLD


def trim_heap() -> bool:
    """malloc_trim(0): hand the free pages inside glibc's heap back to the system (glibc on Linux; else a no-op).

    Freed activations stay resident in the heap until reused; trimming before the backward pass and after each
    optimiser step keeps them from adding to the peak when the next phase cannot reuse them. Costs a heap walk
    and the page faults of re-touching the released pages."""
    libc = _libc()
    if libc is None or not hasattr(libc, "malloc_trim"):
        return False
    return bool(libc.malloc_trim(ctypes.c_size_t(0)))


MADV_DONTNEED = 4
MADV_PAGEOUT = 21  # Linux >= 5.4 (asm-generic/mman-common.h)
# /proc/self/pagemap: one 64-bit word per page (Documentation/admin-guide/mm/pagemap.rst)
_PRESENT, _SWAPPED, _FILE_PAGE = 1 << 63, 1 << 62, 1 << 61


def _file_mappings() -> list[tuple[int, int]]:
    """The address ranges this process maps from files (/proc/self/maps lines with an inode); [] off Linux."""
    ranges = []
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                fields = line.split()
                if len(fields) >= 6 and fields[4] != "0":
                    lo, hi = fields[0].split("-")
                    ranges.append((int(lo, 16), int(hi, 16)))
    except OSError:
        return []
    return ranges


def _clean_runs(flags) -> list[tuple[int, int]]:
    """Runs [i, j) of pages whose mapping can be dropped without losing a byte: present page-cache pages, and pages
    not present that are not in swap. A present page that is not a file page is a private copy made by a write
    (copy on write): dropping it would bring back the file's old bytes, so it ends a run."""
    import numpy as np

    flags = np.asarray(flags, dtype=np.uint64)
    present = (flags & np.uint64(_PRESENT)) != 0
    private_copy = (present & ((flags & np.uint64(_FILE_PAGE)) == 0)) | ((flags & np.uint64(_SWAPPED)) != 0)
    edges = np.diff(np.concatenate(([0], (~private_copy).astype(np.int8), [0])))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


def _page_map_reports_presence() -> bool:
    """Whether /proc/self/pagemap tells a resident private page from an absent one: a page written a moment ago
    must read as present and not a file page (an emulated /proc reading all zeros would make every page look safe
    to drop)."""
    try:
        buffer = mmap.mmap(-1, mmap.PAGESIZE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)  # private, as a copy is
    except (OSError, AttributeError):
        return False
    try:
        buffer[0] = 1
        view = ctypes.c_char.from_buffer(buffer)
        address = ctypes.addressof(view)
        del view
        fd = os.open("/proc/self/pagemap", os.O_RDONLY)
        try:
            raw = os.pread(fd, 8, 8 * (address // mmap.PAGESIZE))
        finally:
            os.close(fd)
    except OSError:
        return False
    finally:
        buffer.close()
    flags = int.from_bytes(raw, sys.byteorder) if len(raw) == 8 else 0
    return bool(flags & _PRESENT) and not flags & _FILE_PAGE


class MappedFilePages:
    """Hands the resident pages of tensors memory-mapped from a file back to the kernel.

    A checkpoint loaded memory-mapped (`torch.load(mmap=True)`, safetensors) stays resident page by page as it is
    read, until the last of its tensors is dropped. Two uses:
    - `release` (madvise MADV_PAGEOUT) reclaims a tensor about to be dropped: converting the weights one by one
      (bf16, channels-last) would otherwise hold the float32 file beside the converted copies;
    - `unmap_clean` (MADV_DONTNEED) unmaps the pages of weights still in use, so that only the block running
      holds its weights resident: they stay in the kernel's page cache and fault back in on the next touch.
    Only clean file-backed pages are dropped: nothing is lost, a page touched again is re-read from the file (a
    page a write has copied stays). The file mappings are read when this is made (make it after loading); a tensor
    outside them (heap memory) is left alone. Linux (>= 5.4 for `release`); elsewhere both do nothing."""

    def __init__(self) -> None:
        self._ranges = _file_mappings()
        self._libc = _libc() if self._ranges else None
        self._page_map_ok: bool | None = None  # checked at the first unmap_clean
        if self._libc is not None:
            self._libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]

    def whole_pages(self, tensor) -> tuple[int, int] | None:
        """[first, last) addresses of the pages lying wholly inside `tensor`'s storage, if it is file-mapped."""
        if self._libc is None or tensor.device.type != "cpu":
            return None
        storage = tensor.untyped_storage()
        start = storage.data_ptr()
        end = start + storage.nbytes()
        if not any(lo <= start and end <= hi for lo, hi in self._ranges):
            return None
        page = mmap.PAGESIZE
        first, last = -(-start // page) * page, end // page * page
        return (first, last) if first < last else None

    def release(self, tensor) -> bool:
        """Reclaim the pages lying wholly inside `tensor`'s storage, if it is file-mapped. True when advised."""
        span = self.whole_pages(tensor)
        return span is not None and self._libc.madvise(span[0], span[1] - span[0], MADV_PAGEOUT) == 0

    def unmap_clean(self, spans: list[tuple[int, int]]) -> int:
        """Unmap the clean pages of `spans` (from `whole_pages`), reading /proc/self/pagemap first so that a page a
        write has copied is kept. Returns the bytes unmapped (0 where the page map cannot be read)."""
        if self._libc is None or not spans:
            return 0
        if self._page_map_ok is None:
            self._page_map_ok = _page_map_reports_presence()
        if not self._page_map_ok:
            return 0
        page, done = mmap.PAGESIZE, 0
        try:
            fd = os.open("/proc/self/pagemap", os.O_RDONLY)
        except OSError:
            return 0
        try:
            for first, last in spans:
                count = (last - first) // page
                raw = os.pread(fd, 8 * count, 8 * (first // page))
                if len(raw) != 8 * count:
                    continue
                for i, j in _clean_runs(memoryview(raw).cast("Q")):
                    if self._libc.madvise(first + i * page, (j - i) * page, MADV_DONTNEED) == 0:
                        done += (j - i) * page
        finally:
            os.close(fd)
        return done


def merge_spans(spans) -> list[tuple[int, int]]:
    """Sorted, overlapping or touching [first, last) spans joined: one page-map read and few madvise calls each."""
    merged: list[list[int]] = []
    for first, last in sorted(spans):
        if merged and first <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    return [(first, last) for first, last in merged]


__all__ = ["DEFAULT_INFERENCE_MMAP_THRESHOLD", "HUGE_PAGE_INFERENCE_MMAP_THRESHOLD", "INFERENCE_MMAP_THRESHOLD",
           "MappedFilePages", "TENSOR_HUGE_PAGES_ENV", "low_memory_mmap_threshold", "merge_spans",
           "request_tensor_huge_pages", "set_malloc_mmap_threshold", "tensor_huge_pages_requested", "trim_heap"]
