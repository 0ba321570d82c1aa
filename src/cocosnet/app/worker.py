"""A bounded inference queue: a fixed number of worker threads (slots) and a fixed number of waiting places.

`await queue.run(fn, *args)` runs fn on a worker thread. When every slot and waiting place is taken it raises
`QueueFull` at once (the server answers 503 with Retry-After); a request that waits or runs longer than the
timeout raises `QueueTimeout` (504). A job that has not started when its request gives up is dropped; a running
job keeps its place until it finishes, so the bound always holds.

A request takes its place before it decodes anything: fn decodes the request's pictures and then runs the model,
so a refused or waiting request holds only its body. `run(fn, *args, slot=False)` is for light work (a label
map checked and resized): it takes a place like any request, so it counts against the same bound, but runs at
once on a helper thread instead of waiting for an inference slot.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import torch

from cocosnet.inference.streams import threads_per_stream


class QueueFull(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"the server is busy (all inference slots and waiting places are taken); "
                         f"retry in {retry_after} s")
        self.retry_after = retry_after


class QueueTimeout(Exception):
    pass


class InferenceQueue:
    def __init__(self, slots: int = 1, waiting: int = 4, timeout: float = 60.0):
        if slots < 1 or waiting < 0:
            raise ValueError(f"need slots >= 1 and waiting >= 0, got {slots} and {waiting}")
        self.slots, self.waiting, self.timeout = slots, waiting, timeout
        # each slot's thread runs its translations on its share of the cores (torch's thread count is per thread)
        per_slot = threads_per_stream(slots)
        self.threads_per_slot = per_slot
        self._executor = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="cocosnet-infer",
                                            initializer=torch.set_num_threads, initargs=(per_slot,))
        self._light = ThreadPoolExecutor(max_workers=slots + waiting, thread_name_prefix="cocosnet-light")
        self._lock = threading.Lock()
        self._pending = 0
        self._durations: deque[float] = deque(maxlen=32)
        self.completed = self.rejected = self.timed_out = 0

    @property
    def capacity(self) -> int:
        return self.slots + self.waiting

    @property
    def pending(self) -> int:
        return self._pending

    def retry_after(self) -> int:
        """Seconds until a place is likely free: the queue ahead of us times the median job duration."""
        typical = statistics.median(self._durations) if self._durations else 1.0
        return max(1, math.ceil(typical * max(self._pending, 1) / self.slots))

    def _timed(self, fn: Callable, args: tuple) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self._durations.append(time.perf_counter() - start)

    def _release(self, _future: Future) -> None:
        with self._lock:
            self._pending -= 1

    async def run(self, fn: Callable, *args: Any, slot: bool = True) -> Any:
        with self._lock:
            if self._pending >= self.capacity:
                self.rejected += 1
                raise QueueFull(self.retry_after())
            self._pending += 1
        try:
            future = (self._executor.submit(self._timed, fn, args) if slot
                      else self._light.submit(fn, *args))
        except RuntimeError:  # shut down
            self._release(None)
            raise
        future.add_done_callback(self._release)  # also runs when a queued job is cancelled
        try:
            result = await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)
        except asyncio.TimeoutError:
            future.cancel()
            self.timed_out += 1
            raise QueueTimeout(f"the request took longer than {self.timeout:g} s") from None
        except asyncio.CancelledError:
            future.cancel()  # the client went away: drop the job if it has not started
            raise
        self.completed += 1
        return result

    def stats(self) -> dict[str, int]:
        return {"slots": self.slots, "waiting_places": self.waiting, "pending": self._pending,
                "completed": self.completed, "rejected": self.rejected, "timed_out": self.timed_out}

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._light.shutdown(wait=False, cancel_futures=True)
