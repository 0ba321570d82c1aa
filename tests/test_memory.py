"""Host-memory helpers: glibc's mmap threshold is set only where it is glibc and the user has not set it."""

import os
import platform
from types import SimpleNamespace

from cocosnet import memory


def test_freed_tensors_go_back_to_the_system_on_glibc(monkeypatch):
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    glibc = platform.libc_ver()[0] == "glibc"
    assert memory.set_malloc_mmap_threshold(memory.INFERENCE_MMAP_THRESHOLD) is glibc
    assert memory.set_malloc_mmap_threshold(0) is False  # nothing to set
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")  # the user's own setting wins
    assert memory.set_malloc_mmap_threshold(memory.INFERENCE_MMAP_THRESHOLD) is False


def test_huge_pages_are_requested_only_before_torch_is_imported_and_never_over_the_users_setting():
    """PyTorch reads THP_MEM_ALLOC_ENABLE at its first allocation: a fresh interpreter gets it set by the request
    (and torch then sees it); with torch already imported, or the user's own value, nothing changes."""
    import subprocess
    import sys

    code = ("import os; from cocosnet import memory; print(memory.request_tensor_huge_pages(), "
            "os.environ.get('THP_MEM_ALLOC_ENABLE'), memory.low_memory_mmap_threshold())")
    env = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"}
    fresh = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert fresh.stdout.split() == ["True", "1", str(4 * 2**20)]
    late = subprocess.run([sys.executable, "-c", "import torch; " + code], capture_output=True, text=True, env=env,
                          check=True)
    assert late.stdout.split() == ["False", "None", str(128 * 1024)]
    own = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**env, "THP_MEM_ALLOC_ENABLE": "0"}, check=True)
    assert own.stdout.split() == ["False", "0", str(128 * 1024)]


def test_the_cli_requests_huge_pages_for_low_memory_before_torch_loads(monkeypatch):
    from cocosnet import cli

    asked = []
    monkeypatch.setattr(memory, "request_tensor_huge_pages", lambda: asked.append(1) or False)
    real = cli.importlib.import_module  # the command parses for real, then runs nothing
    monkeypatch.setattr(cli.importlib, "import_module",
                        lambda name: SimpleNamespace(add_arguments=real(name).add_arguments, run=lambda args: 0))
    assert cli.main(["translate", "--preset", "tiny", "--input", "x.png", "--exemplar", "y.png", "--out", "o.png",
                     "--low-memory"]) == 0
    assert asked == [1]
    assert cli.main(["translate", "--preset", "tiny", "--input", "x.png", "--exemplar", "y.png",
                     "--out", "o.png"]) == 0
    assert asked == [1]


def _resident_kib(path) -> int:
    """Rss of this process's mappings of `path` (/proc/self/smaps)."""
    total, inside = 0, False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            fields = line.split()
            if "-" in fields[0] and len(fields) >= 5 and ":" not in fields[0]:
                inside = len(fields) >= 6 and fields[5] == str(path)
            elif inside and fields[0] == "Rss:":
                total += int(fields[1])
    return total


def test_mapped_checkpoint_pages_are_handed_back_without_losing_their_values(tmp_path):
    """A memory-mapped checkpoint stays resident as it is read; `MappedFilePages.release` drops the pages of a
    tensor (re-read from the file on the next touch), and leaves heap tensors alone."""
    import pytest
    import torch

    if platform.system() != "Linux":
        pytest.skip("madvise(MADV_PAGEOUT) is Linux's")
    path = tmp_path / "weights.pth"
    torch.save({"a": torch.arange(2**20, dtype=torch.float32), "b": torch.ones(2**18)}, path)
    with open(path, "rb+") as f:  # written back, as a downloaded checkpoint is (dirty page-cache pages stay)
        os.fsync(f.fileno())
    state = torch.load(path, mmap=True, weights_only=True)
    total = float(state["a"].sum() + state["b"].sum())  # every page read: resident
    assert _resident_kib(path) >= 4096 + 1024
    pages = memory.MappedFilePages()
    heap = torch.ones(2**20)
    assert pages.release(heap) is False  # not file-mapped: untouched
    assert pages.release(state["a"]) is True
    assert _resident_kib(path) < 1024 + 64  # "a"'s 4 MiB are gone, "b" stays
    assert float(state["a"].sum() + state["b"].sum()) == total and heap.sum().item() == 2**20
