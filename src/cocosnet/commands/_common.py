"""Arguments and helpers shared by the commands that load a model."""

from __future__ import annotations

import argparse
from pathlib import Path

BUNDLED_PRESET = "landscapes"  # the preset of the model that runs when neither --official nor --checkpoint is given


def add_model_arguments(p: argparse.ArgumentParser, backend: bool = True) -> None:
    p.add_argument("--preset", help="preset of an official checkpoint (ade20k, celebahq_edge, deepfashion, ...); "
                                    "needs --official DIR, or --checkpoint DIR trained with that preset")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--official", metavar="DIR", help="folder with the authors' latest_net_G.pth, latest_net_Corr.pth")
    src.add_argument("--checkpoint", metavar="DIR", help="native folder (config.json + model.safetensors)")
    p.add_argument("--image-size", type=int,
                   help="run at another resolution than the preset's or checkpoint's (multiple of 32)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"],
                   help="float32 reproduces the official images; bfloat16 (CPU/GPU) and float16 (GPU) are faster")
    p.add_argument("--low-memory", action="store_true",
                   help="CPU: return freed feature maps to the system at once (lower peak RSS; ~1.1x the time, "
                        "with the transparent huge pages the CLI turns on for it)")
    if backend:  # docs/export.md, "Backends"
        p.add_argument("--backend", default="torch", choices=["torch", "onnxruntime", "openvino"],
                       help="run the network in PyTorch, or exported in ONNX Runtime / OpenVINO (CPU; optional "
                            "extras: pip install \"cocosnet[onnx]\" / \"cocosnet[openvino]\")")
        p.add_argument("--exported", metavar="PATH",
                       help="with --backend onnxruntime/openvino: the network exported by `cocosnet export` (.onnx, "
                            "OpenVINO .xml); without it the network is exported (and golden-checked) at start-up")
    p.add_argument("--channels-last", action="store_true",
                   help="channels-last weights and feature maps (faster convolutions on the CPU; float32 within "
                        "~1e-5 of the default)")
    if backend:  # the commands that run the network (translate, serve, evaluate); docs/model.md, "Compiled"
        p.add_argument("--compile", action="store_true",
                       help="run the network compiled by torch.compile (inductor; needs a C++ compiler on the CPU): "
                            "faster translations after a first call of minutes per input size (kernels cached in "
                            "TORCHINDUCTOR_CACHE_DIR, default ~/.cache/cocosnet/inductor); float32 within ~1e-5 "
                            "of the default")
        p.add_argument("--conv-algorithm", default="direct", choices=["direct", "winograd"],
                       help="winograd: the big 3x3 convolutions by Winograd, fewer multiplications: float32 by "
                            "F(4x4, 3x3), 4x fewer (images within ~2e-5 of direct, which reproduces the official "
                            "images within ~1e-5); with --dtype bfloat16 the wide ones by F(2x2, 3x3), 2.25x fewer")


def check_input_file(flag: str, path: str | Path, what: str = "") -> None:
    """FileNotFoundError naming the flag (and what the file is) when `path` is missing or a folder."""
    if not Path(path).is_file():
        kind = "is a folder, not a file" if Path(path).is_dir() else "not found"
        raise FileNotFoundError(f"--{flag}: {what + ' ' if what else ''}{kind}: {path}")


def check_model_arguments(args: argparse.Namespace) -> str | None:
    """What --preset / --official / --checkpoint ask for, checked before torch loads: the canonical preset name
    (None without --preset). A preset never falls back to the bundled landscapes model silently."""
    from cocosnet.presets import canonical_name, get_preset

    if args.official and not args.preset:
        raise ValueError("--official needs --preset (which data set the checkpoint was trained on)")
    if not args.preset:
        return None
    get_preset(args.preset)  # an unknown name: KeyError listing the presets
    preset = canonical_name(args.preset)
    for flag in ("official", "checkpoint"):
        folder = getattr(args, flag, None)
        if folder and not Path(folder).is_dir():
            raise FileNotFoundError(f"--{flag} folder not found: {folder}")
    if not args.official and not args.checkpoint and preset != BUNDLED_PRESET:
        raise ValueError(f"--preset {args.preset} needs the model's weights: --official DIR (the authors' "
                         f"latest_net_G.pth and latest_net_Corr.pth for {preset}) or --checkpoint DIR (a native "
                         f"folder whose config.json is the {preset} preset); without them only the bundled "
                         f"{BUNDLED_PRESET} model is available")
    return preset


def load_translator(args: argparse.Namespace):
    preset = check_model_arguments(args)
    from cocosnet.inference import Translator, default_checkpoint
    from cocosnet.runtime import RuntimeOptions

    runtime = RuntimeOptions(device=args.device, dtype=args.dtype, low_memory=args.low_memory,
                             backend=getattr(args, "backend", "torch"), exported=getattr(args, "exported", None),
                             channels_last=getattr(args, "channels_last", False), streams=getattr(args, "streams", 1),
                             compile=getattr(args, "compile", False),
                             conv_algorithm=getattr(args, "conv_algorithm", "direct"),
                             unmap_weights=getattr(args, "unmap_weights", True))
    if args.official:
        overrides = {"image_size": args.image_size} if args.image_size else {}
        return Translator.from_official(args.preset, folder=args.official, runtime=runtime, **overrides)
    folder = args.checkpoint or default_checkpoint()
    translator = Translator.from_pretrained(folder, runtime, image_size=args.image_size)
    if preset is not None and translator.cfg.name != preset:
        raise ValueError(f"--preset {args.preset} does not match {folder}: its config.json is the "
                         f"{translator.cfg.name!r} preset (drop --preset, or give a {preset} checkpoint)")
    return translator
