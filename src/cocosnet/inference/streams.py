"""Throughput mode on the CPU: the items of a batch run as concurrent streams, each on its share of the threads.

One forward at batch B does B times the work of batch 1 with the same threads, so a CPU gains nothing from
batching (measured ~0.9x images/s at batch 4): its convolutions are already large, and the time lost is in the
parts that split poorly over threads (small low-resolution layers, normalisation, the per-operator fork and join).
Splitting the batch into S parts run side by side, each with threads / S intra-op threads (OpenVINO's THROUGHPUT
hint does the same with its "streams"), keeps every core busy on its own image instead. Each part's numbers are
those of that part run alone with that many threads: a thread count changes how some reductions are split, so
streamed images differ from the 2-thread batch by float32 rounding only (~1e-5), and not at all from the same part
run with threads / S threads (tested).

PyTorch's intra-op thread count is per OS thread under OpenMP (`torch.set_num_threads` in a worker sets that
worker's count and the default of threads started later), so the worker threads set theirs and the caller's is
restored afterwards. Gradient and inference modes are per thread too: each stream enters inference mode itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch


def threads_per_stream(streams: int, threads: int | None = None) -> int:
    """The intra-op threads each of `streams` concurrent streams gets out of `threads` (default: this thread's)."""
    total = threads or torch.get_num_threads()
    return max(1, total // max(1, streams))


def run_streams(fn: Callable[..., Any], parts: Sequence[tuple], threads: int | None = None) -> list:
    """fn(*part) for every part, concurrently, one stream each with `threads_per_stream` threads, under inference
    mode. Results in the order of `parts`; the first exception raised by a stream is raised here."""
    caller_threads = torch.get_num_threads()
    per_stream = threads_per_stream(len(parts), threads or caller_threads)

    def stream(part: tuple) -> Any:
        torch.set_num_threads(per_stream)
        with torch.inference_mode():
            return fn(*part)

    try:
        with ThreadPoolExecutor(max_workers=len(parts), thread_name_prefix="cocosnet-stream") as pool:
            return list(pool.map(stream, parts))
    finally:
        torch.set_num_threads(caller_threads)  # the default of threads started later, which the streams lowered


def split_batch(streams: int, *tensors: torch.Tensor | None) -> list[tuple]:
    """The batch dimension of `tensors` cut into at most `streams` parts of near-equal size (None stays None)."""
    n = next(t.shape[0] for t in tensors if t is not None)
    bounds = torch.arange(n).tensor_split(min(streams, n))
    return [tuple(None if t is None else t[int(b[0]): int(b[-1]) + 1] for t in tensors) for b in bounds]


__all__ = ["run_streams", "split_batch", "threads_per_stream"]
