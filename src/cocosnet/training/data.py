"""Data order and data randomness that a checkpoint can resume exactly, on any number of processes and workers.

* `ResumableSampler` shuffles with (seed, epoch) like `DistributedSampler`, gives every process the same number of
  full batches (the tail that does not fill one global batch is dropped) and can start in the middle of an epoch.
  Process r takes positions r, r+W, r+2W... so the union of the W processes' k-th batches is exactly the k-th batch
  of one process with a W-times larger batch.
* `SeededSamples` makes every sample a pure function of (seed, epoch, index): it seeds Python's, NumPy's and
  torch's global generators from those three numbers around the data set's `__getitem__` (and restores them), so
  the random exemplar choice and crops of the data sets do not depend on worker count, process count or resuming.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler


def sample_seed(seed: int, epoch: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, epoch, index]).generate_state(1)[0])


class SeededSamples(Dataset):
    """Wraps a map-style data set; indexed by (epoch, index) pairs from `ResumableSampler`."""

    def __init__(self, dataset: Any, seed: int = 0):
        self.dataset = dataset
        self.seed = seed

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]) -> Any:
        epoch, index = key
        if hasattr(self.dataset, "set_epoch") and getattr(self.dataset, "epoch", None) != epoch:
            self.dataset.set_epoch(epoch)  # data sets that draw from (seed, epoch, index) themselves
        s = sample_seed(self.seed, epoch, index)
        py_state, np_state, torch_state = random.getstate(), np.random.get_state(), torch.get_rng_state()
        try:
            random.seed(s)
            np.random.seed(s)
            torch.manual_seed(s)
            return self.dataset[index]
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)
            torch.set_rng_state(torch_state)


class ResumableSampler(Sampler):
    def __init__(self, n: int, batch_size: int, rank: int = 0, world_size: int = 1, seed: int = 0,
                 shuffle: bool = True):
        if n < batch_size * world_size:
            raise ValueError(
                f"the data set has {n} samples, fewer than one global batch ({batch_size} x {world_size} processes)"
            )
        self.n, self.batch_size, self.rank, self.world_size = n, batch_size, rank, world_size
        self.seed, self.shuffle = seed, shuffle
        self.epoch, self.start_batch = 0, 0

    @property
    def batches_per_epoch(self) -> int:
        return self.n // (self.batch_size * self.world_size)

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch, self.start_batch = epoch, start_batch

    def __len__(self) -> int:
        return (self.batches_per_epoch - self.start_batch) * self.batch_size

    def __iter__(self) -> Iterator[tuple[int, int]]:
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.n, generator=g).tolist()
        else:
            order = list(range(self.n))
        order = order[: self.batches_per_epoch * self.batch_size * self.world_size]
        mine = order[self.rank:: self.world_size]
        for index in mine[self.start_batch * self.batch_size:]:
            yield (self.epoch, index)


class BatchStream:
    """An endless stream of batches that knows its position (epoch, batch within the epoch)."""

    def __init__(self, dataset: Any, batch_size: int, rank: int = 0, world_size: int = 1, seed: int = 0,
                 num_workers: int = 0, shuffle: bool = True, pin_memory: bool = False):
        self.samples = SeededSamples(dataset, seed)
        self.sampler = ResumableSampler(len(dataset), batch_size, rank, world_size, seed, shuffle)
        self.batch_size, self.num_workers, self.pin_memory = batch_size, num_workers, pin_memory
        self.epoch, self.batch_in_epoch = 0, 0
        self._it: Iterator | None = None

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.batch_in_epoch = int(state["epoch"]), int(state["batch_in_epoch"])
        self._it = None

    def _start(self) -> None:
        if self.batch_in_epoch >= self.sampler.batches_per_epoch:
            self.epoch, self.batch_in_epoch = self.epoch + 1, 0
        self.sampler.set_epoch(self.epoch, self.batch_in_epoch)
        loader = DataLoader(self.samples, batch_size=self.batch_size, sampler=self.sampler, drop_last=True,
                            num_workers=self.num_workers, pin_memory=self.pin_memory)
        self._it = iter(loader)

    def __iter__(self) -> BatchStream:
        return self

    def __next__(self) -> Any:
        if self._it is None:
            self._start()
        try:
            batch = next(self._it)  # type: ignore[arg-type]
        except StopIteration:
            self.epoch, self.batch_in_epoch = self.epoch + 1, 0
            self._start()
            batch = next(self._it)  # type: ignore[arg-type]
        self.batch_in_epoch += 1
        return batch

