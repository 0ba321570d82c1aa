"""`cocosnet translate`: one semantic input + one exemplar -> image (and optionally the warped exemplar)."""

from __future__ import annotations

import argparse
from pathlib import Path

from cocosnet.commands import multi_exemplar_args as multi
from cocosnet.commands._common import BUNDLED_PRESET, add_model_arguments, check_model_arguments, load_translator
from cocosnet.fileio import OutputPathError, check_output_path


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p)
    p.add_argument("--input", required=True,
                   help="semantic input: label PNG of class ids (or colour-coded in the model's palette), or "
                        ".npy/.npz/.pt map")
    p.add_argument("--exemplar", required=True, action="append",
                   help="exemplar photo (PNG, JPEG, WebP, BMP, GIF or TIFF); repeat for several exemplars, numbered "
                        "from 0 (see --assign, --region-mask)")
    p.add_argument("--exemplar-label", action="append",
                   help="the exemplar's label map (needed by maskmix presets); one per --exemplar, in order")
    p.add_argument("--out", required=True, help="output image path")
    p.add_argument("--warp-out", help="also save the warped exemplar here (several exemplars: their composite)")
    multi.add_arguments(p)


def check_inputs(args: argparse.Namespace) -> None:
    """Every input file exists and every output can be written, before torch and the model load."""
    for flag, what in (("input", "semantic input"), ("exemplar", "exemplar"), ("exemplar_label", "exemplar label map")):
        paths = getattr(args, flag)
        for path in paths if isinstance(paths, list) else [paths]:
            if path is not None and not Path(path).is_file():
                kind = "is a folder, not a file" if Path(path).is_dir() else "not found"
                raise FileNotFoundError(f"--{flag.replace('_', '-')}: {what} {kind}: {path}")
    multi.check_counts(args)
    # every output is checked before the model loads, so a bad --warp-out cannot leave a written --out behind
    out = check_output_path(args.out)
    if args.warp_out and check_output_path(args.warp_out) == out:
        raise OutputPathError(args.warp_out, "it is the same file as --out")
    preset = check_model_arguments(args)
    if multi.is_multi(args):
        from cocosnet.presets import get_model_config

        known = None if args.checkpoint else get_model_config(preset or BUNDLED_PRESET).class_names
        args.assignment = multi.parse_assignment(args, known)
        multi.check_mask_sizes(args.input, args.assignment[1])


def run(args: argparse.Namespace) -> int:
    check_inputs(args)
    from cocosnet.data.io import save_image

    translator = load_translator(args)
    labels = args.exemplar_label
    if multi.is_multi(args):
        assign, masks = args.assignment
        result = translator.translate_multi(args.input, args.exemplar, labels, assign=assign or None,
                                            region_masks=masks)
    else:  # one exemplar: exactly the single-exemplar path
        result = translator.translate(args.input, args.exemplar[0], labels[0] if labels else None)
    save_image(args.out, result.images()[0])
    if args.warp_out:
        save_image(args.warp_out, result.warped_images()[0])
    print(f"wrote {args.out}" + (f" and {args.warp_out}" if args.warp_out else ""))
    return 0
