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


def _mapping_kib(path) -> dict[str, int]:
    """Rss and Anonymous (pages a write has copied) of this process's mappings of `path` (/proc/self/smaps)."""
    total, inside = {"Rss:": 0, "Anonymous:": 0}, False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            fields = line.split()
            if "-" in fields[0] and len(fields) >= 5 and ":" not in fields[0]:
                inside = len(fields) >= 6 and fields[5] == str(path)
            elif inside and fields[0] in total:
                total[fields[0]] += int(fields[1])
    return total


def _resident_kib(path) -> int:
    return _mapping_kib(path)["Rss:"]


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


def test_clean_runs_keep_every_page_a_write_copied_or_swap_holds():
    file_page, copy, swapped = memory._PRESENT | memory._FILE_PAGE, memory._PRESENT, memory._SWAPPED
    flags = [file_page, file_page, copy, 0, 0, swapped, file_page, copy]
    assert memory._clean_runs(flags) == [(0, 2), (3, 5), (6, 7)]
    assert memory._clean_runs([copy, swapped]) == []
    assert memory._clean_runs([]) == []


def test_unmapping_clean_pages_keeps_what_a_write_changed(tmp_path):
    """`unmap_clean` drops a mapped tensor's page-cache pages (re-read on the next touch) but never the pages an
    in-place write has copied: dropping those would bring the file's old bytes back."""
    import pytest
    import torch

    if platform.system() != "Linux" or not os.access("/proc/self/pagemap", os.R_OK):
        pytest.skip("the page map is Linux's")
    path = tmp_path / "weights.pth"
    torch.save({"a": torch.arange(2**20, dtype=torch.float32), "b": torch.ones(2**18)}, path)
    state = torch.load(path, mmap=True, weights_only=True)
    state["a"][: 2**19] *= -1  # 2 MiB written: copied pages, private to this process
    expected = torch.cat([-torch.arange(2**19, dtype=torch.float32), torch.arange(2**19, 2**20, dtype=torch.float32)])
    assert torch.equal(state["a"], expected) and float(state["b"].sum()) == 2**18  # every page read: resident
    before = _mapping_kib(path)
    assert before["Rss:"] >= 4096 + 1024 and 2048 <= before["Anonymous:"] < 2048 + 8
    pages = memory.MappedFilePages()
    assert pages.whole_pages(torch.ones(2**20)) is None  # heap memory: never advised
    spans = memory.merge_spans([pages.whole_pages(state["a"]), pages.whole_pages(state["b"])])
    assert len(spans) <= 2
    unmapped = pages.unmap_clean(spans)
    after = _mapping_kib(path)
    assert after["Anonymous:"] == before["Anonymous:"]  # the written pages stay
    assert after["Rss:"] - after["Anonymous:"] <= 8  # only the pages the two tensors share partly with the header
    assert 2048 + 1024 - 8 <= unmapped // 1024 <= 2048 + 1024
    assert torch.equal(state["a"], expected) and float(state["b"].sum()) == 2**18


def test_spans_merge_where_they_touch():
    assert memory.merge_spans([(8, 12), (0, 4), (4, 6), (10, 16)]) == [(0, 6), (8, 16)]
    assert memory.merge_spans([]) == []


def test_nothing_is_unmapped_where_the_page_map_cannot_tell_a_copy_from_a_file_page(tmp_path, monkeypatch):
    import pytest
    import torch

    if platform.system() != "Linux" or not os.access("/proc/self/pagemap", os.R_OK):
        pytest.skip("the page map is Linux's")
    assert memory._page_map_reports_presence() is True  # this kernel reports a just-written private page
    path = tmp_path / "weights.pth"
    torch.save({"a": torch.ones(2**20)}, path)
    state = torch.load(path, mmap=True, weights_only=True)
    assert float(state["a"].sum()) == 2**20
    monkeypatch.setattr(memory, "_page_map_reports_presence", lambda: False)  # e.g. an emulated /proc: all zeros
    pages = memory.MappedFilePages()
    assert pages.unmap_clean([pages.whole_pages(state["a"])]) == 0
    assert _mapping_kib(path)["Rss:"] >= 4096
