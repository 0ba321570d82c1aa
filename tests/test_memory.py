"""Host-memory helpers: glibc's mmap threshold is set only where it is glibc and the user has not set it."""

import platform

from cocosnet import memory


def test_freed_tensors_go_back_to_the_system_on_glibc(monkeypatch):
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    glibc = platform.libc_ver()[0] == "glibc"
    assert memory.set_malloc_mmap_threshold(memory.INFERENCE_MMAP_THRESHOLD) is glibc
    assert memory.set_malloc_mmap_threshold(0) is False  # nothing to set
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")  # the user's own setting wins
    assert memory.set_malloc_mmap_threshold(memory.INFERENCE_MMAP_THRESHOLD) is False
