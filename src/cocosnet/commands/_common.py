"""Arguments and helpers shared by the commands that load a model."""

from __future__ import annotations

import argparse


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", help="preset of an official checkpoint (ade20k, celebahq_edge, deepfashion, ...)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--official", metavar="DIR", help="folder with the authors' latest_net_G.pth, latest_net_Corr.pth")
    src.add_argument("--checkpoint", metavar="DIR", help="native folder (config.json + model.safetensors)")
    p.add_argument("--image-size", type=int,
                   help="run at another resolution than the preset's or checkpoint's (multiple of 32)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"],
                   help="float32 reproduces the official images; bfloat16 (CPU/GPU) and float16 (GPU) are faster")
    p.add_argument("--low-memory", action="store_true",
                   help="CPU: return freed feature maps to the system at once (lower peak RSS, slower)")


def load_translator(args: argparse.Namespace):
    from cocosnet.inference import Translator, default_checkpoint
    from cocosnet.runtime import RuntimeOptions

    runtime = RuntimeOptions(device=args.device, dtype=args.dtype, low_memory=args.low_memory)
    if args.official:
        if not args.preset:
            raise ValueError("--official needs --preset (which data set the checkpoint was trained on)")
        overrides = {"image_size": args.image_size} if args.image_size else {}
        return Translator.from_official(args.preset, folder=args.official, runtime=runtime, **overrides)
    return Translator.from_pretrained(args.checkpoint or default_checkpoint(), runtime,
                                      image_size=args.image_size)
