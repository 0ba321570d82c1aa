"""`cocosnet convert`: the authors' .pth checkpoints -> a native folder (safetensors + config.json)."""

from __future__ import annotations

import argparse

import torch


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", required=True, help="the data set the checkpoint was trained on")
    p.add_argument("--official", required=True, metavar="DIR", help="folder with latest_net_G.pth, latest_net_Corr.pth")
    p.add_argument("--out", required=True, metavar="DIR", help="native checkpoint folder to write")
    p.add_argument("--fp16", action="store_true", help="store the weights in float16 (half the size)")
    p.add_argument("--image-size", type=int, help="resolution recorded in the config (default: the preset's)")


def run(args: argparse.Namespace) -> int:
    from cocosnet.fileio import check_output_dir
    from cocosnet.inference import Translator
    from cocosnet.weights import CONFIG_FILE, WEIGHTS_FILE

    check_output_dir(args.out)
    overrides = {"image_size": args.image_size} if args.image_size else {}
    translator = Translator.from_official(args.preset, folder=args.official, device="cpu", **overrides)
    out = translator.save_pretrained(args.out, dtype=torch.float16 if args.fp16 else None)
    print(f"wrote {out / WEIGHTS_FILE} and {out / CONFIG_FILE}")
    return 0
