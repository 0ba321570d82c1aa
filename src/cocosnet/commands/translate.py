"""`cocosnet translate`: one semantic input + one exemplar -> image (and optionally the warped exemplar)."""

from __future__ import annotations

import argparse
from pathlib import Path

from cocosnet.commands._common import add_model_arguments, check_model_arguments, load_translator
from cocosnet.fileio import OutputPathError, check_output_path


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p)
    p.add_argument("--input", required=True,
                   help="semantic input: label PNG of class ids (or colour-coded in the model's palette), or "
                        ".npy/.npz/.pt map")
    p.add_argument("--exemplar", required=True, help="exemplar photo (PNG, JPEG, WebP, BMP, GIF or TIFF)")
    p.add_argument("--exemplar-label", help="the exemplar's label map (needed by maskmix presets)")
    p.add_argument("--out", required=True, help="output image path")
    p.add_argument("--warp-out", help="also save the warped exemplar here")
    p.add_argument("--size", help="output size: N (the short side; the input's aspect ratio is kept) or HxW "
                                  "(height x width); default: the input's aspect ratio, short side the model's "
                                  "image size (a square input gives exactly image_size²); docs/model.md")


def check_inputs(args: argparse.Namespace) -> None:
    """Every input file exists and every output can be written, before torch and the model load."""
    for flag, what in (("input", "semantic input"), ("exemplar", "exemplar"), ("exemplar_label", "exemplar label map")):
        path = getattr(args, flag)
        if path is not None and not Path(path).is_file():
            kind = "is a folder, not a file" if Path(path).is_dir() else "not found"
            raise FileNotFoundError(f"--{flag.replace('_', '-')}: {what} {kind}: {path}")
    # every output is checked before the model loads, so a bad --warp-out cannot leave a written --out behind
    out = check_output_path(args.out)
    if args.warp_out and check_output_path(args.warp_out) == out:
        raise OutputPathError(args.warp_out, "it is the same file as --out")
    check_model_arguments(args)
    if args.size is not None:
        from cocosnet.sizing import parse_size, working_size

        args.size = parse_size(args.size)
        if isinstance(args.size, tuple):
            working_size(args.size)  # a size the model cannot take is named before the model loads


def run(args: argparse.Namespace) -> int:
    check_inputs(args)
    from cocosnet.data.io import save_image

    translator = load_translator(args)
    result = translator.translate(args.input, args.exemplar, args.exemplar_label, size=args.size)
    save_image(args.out, result.images()[0])
    if args.warp_out:
        save_image(args.warp_out, result.warped_images()[0])
    print(f"wrote {args.out}" + (f" and {args.warp_out}" if args.warp_out else ""))
    return 0
