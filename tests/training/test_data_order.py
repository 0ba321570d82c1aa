"""Data order: per-process batches union to the single-process batch; samples depend only on (seed, epoch, index)."""

from __future__ import annotations

import random

import torch

from cocosnet.training.data import BatchStream, ResumableSampler, SeededSamples

from .conftest import SyntheticDataset, tiny_preset


def test_ranks_split_each_global_batch():
    single = list(ResumableSampler(10, 4, 0, 1, seed=3))
    per_rank = [list(ResumableSampler(10, 2, r, 2, seed=3)) for r in range(2)]
    assert len(single) == 8 and all(len(p) == 4 for p in per_rank)  # the tail that fills no global batch is dropped
    for k in range(2):
        union = set(per_rank[0][2 * k: 2 * k + 2]) | set(per_rank[1][2 * k: 2 * k + 2])
        assert union == set(single[4 * k: 4 * k + 4])
    other_epoch = ResumableSampler(10, 4, 0, 1, seed=3)
    other_epoch.set_epoch(1)
    assert list(other_epoch) != single
    mid = ResumableSampler(10, 4, 0, 1, seed=3)
    mid.set_epoch(0, start_batch=1)
    assert list(mid) == single[4:]


def test_samples_are_a_function_of_seed_epoch_index_and_leave_global_rng_alone():
    ds = SeededSamples(SyntheticDataset(tiny_preset("tiny").model, n=3), seed=5)
    random.seed(0)
    torch.manual_seed(0)
    expected_next = torch.rand(1)
    torch.manual_seed(0)
    a = ds[(0, 1)]["exemplar"]
    assert torch.equal(torch.rand(1), expected_next)  # global torch RNG restored
    assert torch.equal(ds[(0, 1)]["exemplar"], a)
    assert not torch.equal(ds[(1, 1)]["exemplar"], a)  # a new epoch draws new randomness


def test_batch_stream_resumes_mid_epoch_and_with_workers():
    ds = SyntheticDataset(tiny_preset("tiny").model, n=6)
    keys = [b["key"] for b, _ in zip(BatchStream(ds, 2, seed=1), range(5), strict=False)]
    s = BatchStream(ds, 2, seed=1)
    next(s), next(s)
    state = s.state_dict()
    resumed = BatchStream(ds, 2, seed=1, num_workers=1)
    resumed.load_state_dict(state)
    rest = [next(resumed)["key"] for _ in range(3)]
    assert rest == keys[2:]
    assert state == {"epoch": 0, "batch_in_epoch": 2} and resumed.state_dict() == {"epoch": 1, "batch_in_epoch": 2}
