"""Shared helpers for the training tests: tiny presets, synthetic batches and data sets, a random VGG."""

from __future__ import annotations

import os
import signal

import pytest
import torch

from cocosnet.presets import get_preset
from cocosnet.vgg import load_vgg19

# Tiny widths for the official presets' shapes (channel counts, warp modes, loss sets).
TINY = dict(image_size=64, adaptor_nf=4, ngf=2, ndf=8, corr_channels=16, spade_hidden=8, corr_blocks=1)


def tiny_preset(name: str):
    return get_preset(name, **TINY) if name != "tiny" else get_preset("tiny")


def make_sample(cfg, gen: torch.Generator, self_ref: float = 1.0) -> dict:
    s = cfg.image_size
    if cfg.label_nc:
        label = torch.randint(0, cfg.label_nc, (1, s // 8, s // 8), generator=gen)
        label = label.repeat_interleave(8, -1).repeat_interleave(8, -2)  # blocky, like real label maps
        ex_label = torch.randint(0, cfg.label_nc, (1, s // 8, s // 8), generator=gen)
        ex_label = ex_label.repeat_interleave(8, -1).repeat_interleave(8, -2)
    else:
        label = torch.rand(cfg.semantic_nc, s, s, generator=gen)
        ex_label = torch.rand(cfg.semantic_nc, s, s, generator=gen)
    return {"label": label, "image": torch.rand(3, s, s, generator=gen) * 2 - 1,
            "exemplar": torch.rand(3, s, s, generator=gen) * 2 - 1, "exemplar_label": ex_label,
            "self_ref": torch.tensor(self_ref)}


def make_batch(cfg, n: int, seed: int = 0, self_ref: list[float] | None = None) -> dict:
    gen = torch.Generator().manual_seed(seed)
    refs = self_ref or [float(i % 2 == 0) for i in range(n)]
    samples = [make_sample(cfg, gen, r) for r in refs]
    return {k: torch.stack([s[k] for s in samples]) for k in samples[0]}


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
