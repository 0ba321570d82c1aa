"""Shared helpers for the training tests: tiny presets, synthetic batches and data sets, a random VGG."""

from __future__ import annotations

import os
import signal

import pytest
import torch

from cocosnet.presets import get_preset
from cocosnet.vgg import load_vgg19

from ..helpers.batches import synthetic_batch

# Tiny widths for the official presets' shapes (channel counts, warp modes, loss sets).
TINY = dict(image_size=64, adaptor_nf=4, ngf=2, ndf=8, corr_channels=16, spade_hidden=8, corr_blocks=1)


def tiny_preset(name: str):
    return get_preset(name, **TINY) if name != "tiny" else get_preset("tiny")


def make_sample(cfg, gen: torch.Generator, self_ref: float = 1.0) -> dict:
    seed = int(torch.randint(0, 2**31 - 1, (), generator=gen))
    batch = synthetic_batch(cfg, 1, seed=seed, self_ref=[self_ref])
    return {k: v[0] for k, v in batch.items()}


def make_batch(cfg, n: int, seed: int = 0, self_ref: list[float] | None = None) -> dict:
    return synthetic_batch(cfg, n, seed=seed, self_ref=self_ref)


class SyntheticDataset(torch.utils.data.Dataset):
    """Deterministic content per index plus global-RNG randomness (like a random exemplar choice / crop), and an
    optional SIGTERM to this process when the `kill_at`-th sample is read (to test the signal checkpoint)."""

    def __init__(self, cfg, n: int = 8, kill_at: int | None = None):
        self.cfg, self.n, self.kill_at, self.reads = cfg, n, kill_at, 0

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict:
        self.reads += 1
        if self.kill_at is not None and self.reads == self.kill_at:
            os.kill(os.getpid(), signal.SIGTERM)
        sample = make_sample(self.cfg, torch.Generator().manual_seed(1000 + i), float(i % 2 == 0))
        shift = int(torch.randint(0, 8, ()).item())  # global RNG: made reproducible by SeededSamples
        sample["exemplar"] = torch.roll(sample["exemplar"], shift, dims=-1)
        sample["key"] = f"s{i}"
        return sample


@pytest.fixture(scope="session")
def vgg():
    torch.manual_seed(1234)
    return load_vgg19("random")


def flat_params(module: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in module.parameters()])
