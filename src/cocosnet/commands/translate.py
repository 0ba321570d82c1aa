"""`cocosnet translate`: one semantic input + one exemplar -> image (and optionally the warped exemplar)."""

from __future__ import annotations

import argparse

from cocosnet.commands import multi_exemplar_args as multi
from cocosnet.commands._common import (
    BUNDLED_PRESET,
    add_model_arguments,
    check_input_file,
    check_model_arguments,
    load_translator,
)
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
    p.add_argument("--confidence-out", help="also save the match confidence here (greyscale: white = one exemplar "
                                            "position alone, black = spread over many; docs/inspector.md)")
    p.add_argument("--flow-out", help="also save where each pixel's style came from in the exemplar, as a colour "
                                      "wheel (hue = direction, saturation = distance; docs/inspector.md)")
    p.add_argument("--flow-argmax", action="store_true",
                   help="--flow-out shows the best match instead of the softmax-weighted position")
    multi.add_arguments(p)
    p.add_argument("--size", help="output size: N (the short side; the input's aspect ratio is kept) or HxW "
                                  "(height x width); default: the input's aspect ratio, short side the model's "
                                  "image size (a square input gives exactly image_size²); docs/model.md")


def check_inputs(args: argparse.Namespace) -> None:
    """Every input file exists and every output can be written, before torch and the model load."""
    for flag, what in (("input", "semantic input"), ("exemplar", "exemplar"), ("exemplar_label", "exemplar label map")):
        paths = getattr(args, flag)
        for path in paths if isinstance(paths, list) else [paths]:
            if path is not None:
                check_input_file(flag.replace("_", "-"), path, what)
    multi.check_counts(args)
    # every output is checked before the model loads, so a bad --warp-out cannot leave a written --out behind
    seen = {check_output_path(args.out): "--out"}
    for flag in ("warp_out", "confidence_out", "flow_out"):
        path = getattr(args, flag)
        if path:
            target = check_output_path(path)
            if target in seen:
                raise OutputPathError(path, f"it is the same file as {seen[target]}")
            seen[target] = f"--{flag.replace('_', '-')}"
    if args.flow_argmax and not args.flow_out:
        raise ValueError("--flow-argmax needs --flow-out")
    preset = check_model_arguments(args)
    if multi.is_multi(args):
        if args.confidence_out or args.flow_out:
            raise ValueError("--confidence-out / --flow-out inspect one exemplar's correspondence: give a single "
                             "--exemplar (no --assign / --region-mask)")
        from cocosnet.presets import get_model_config

        known = None if args.checkpoint else get_model_config(preset or BUNDLED_PRESET).class_names
        args.assignment = multi.parse_assignment(args, known)
        multi.check_mask_sizes(args.input, args.assignment[1])
    if args.size is not None:
        if multi.is_multi(args):
            raise ValueError("--size applies to one exemplar; several exemplars run at the model's image size")
        from cocosnet.sizing import parse_size, working_size

        args.size = parse_size(args.size)
        if isinstance(args.size, tuple):
            working_size(args.size)  # a size the model cannot take is named before the model loads


def run(args: argparse.Namespace) -> int:
    check_inputs(args)
    from cocosnet.data.io import save_image

    translator = load_translator(args)
    labels = args.exemplar_label
    inspect = bool(args.confidence_out or args.flow_out)
    if multi.is_multi(args):
        assign, masks = args.assignment
        result = translator.translate_multi(args.input, args.exemplar, labels, assign=assign or None,
                                            region_masks=masks)
    else:  # one exemplar: exactly the single-exemplar path
        result = translator.translate(args.input, args.exemplar[0], labels[0] if labels else None,
                                      inspect=inspect, size=args.size)
    save_image(args.out, result.images()[0])
    if args.warp_out:
        save_image(args.warp_out, result.warped_images()[0])
    print(f"wrote {args.out}" + (f" and {args.warp_out}" if args.warp_out else ""))
    if inspect:
        save_inspection(args, result)
    return 0


def save_inspection(args: argparse.Namespace, result) -> None:
    """The inspector's pictures (atomically) and what they say: the confidence, the flow's scale, the classes
    the exemplar lacks."""
    from cocosnet.data.io import save_image
    from cocosnet.viz import confidence_image, flow_image

    confidence = result.confidence[0]
    print(f"match confidence: median {float(confidence.median()):.3f}, "
          f"{float((confidence < 0.5).float().mean()) * 100:.1f}% of pixels below 0.5")
    if args.confidence_out:
        save_image(args.confidence_out, confidence_image(confidence))
        print(f"wrote {args.confidence_out}")
    if args.flow_out:
        picture, scale = flow_image((result.flow_argmax if args.flow_argmax else result.flow)[0])
        save_image(args.flow_out, picture)
        print(f"wrote {args.flow_out} (full colour = {scale:.1f} px)")
    if result.missing_classes is not None:
        lacking = result.missing_classes[0]
        print("the exemplar lacks the input's classes: " + ", ".join(f"{c.name} ({c.id})" for c in lacking)
              if lacking else "the exemplar has every class of the input")
