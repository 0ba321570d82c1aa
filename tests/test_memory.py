"""Host-memory helpers: glibc's mmap threshold is set only where it is glibc and the user has not set it."""

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
    env = {k: v for k, v in __import__("os").environ.items() if k != "THP_MEM_ALLOC_ENABLE"}
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
