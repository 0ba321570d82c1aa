"""`cocosnet makeup`: a makeup layer drawn on a reference portrait, warped onto target portraits and blended.

OUT/<target stem>.png           the made-up target
OUT/<target stem>_layer.png     with --save-layer: the warped layer (RGBA)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cocosnet.commands._common import check_input_file
from cocosnet.fileio import check_output_dir, check_output_path

BLENDS = ("multiply", "normal", "soft-light")  # cocosnet.makeup.BLEND_MODES (not imported: torch stays unloaded)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reference", required=True, help="the portrait the makeup layer was drawn on")
    p.add_argument("--layer", required=True, help="the makeup layer: an RGBA PNG the size of the reference "
                                                  "(transparent where there is no makeup)")
    p.add_argument("--target", required=True, action="append", help="a portrait to make up (repeat for more)")
    p.add_argument("--out", required=True, help="output folder (OUT/<target stem>.png)")
    p.add_argument("--blend", default="multiply", choices=BLENDS, help="how the layer's colour meets the skin")
    p.add_argument("--opacity", type=float, default=1.0, help="the layer's strength, 0..1")
    p.add_argument("--save-layer", action="store_true", help="also write the warped layer (OUT/<stem>_layer.png)")
    p.add_argument("--official", metavar="DIR", help="use the CoCosNet correspondence of the authors' face "
                                                     "checkpoint (latest_net_Corr.pth) instead of the offline warp")
    p.add_argument("--preset", help="the checkpoint's preset (celebahq_edge); needed with --official")
    p.add_argument("--image-size", type=int, help="run the correspondence at this size (multiple of 32)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])


def outputs(args: argparse.Namespace) -> list[tuple[Path, Path | None]]:
    """(result, warped layer or None) per target, checked before anything loads; two targets with one stem are
    refused rather than one overwriting the other."""
    out = check_output_dir(args.out)
    seen: dict[str, str] = {}
    paths = []
    for target in args.target:
        stem = Path(target).stem
        if stem in seen:
            raise ValueError(f"--target {target} and {seen[stem]} would both write {out / (stem + '.png')}; "
                             f"rename one")
        seen[stem] = target
        layer = out / f"{stem}_layer.png" if args.save_layer else None
        paths.append((check_output_path(out / f"{stem}.png"), layer and check_output_path(layer)))
    return paths


def check_inputs(args: argparse.Namespace) -> list[tuple[Path, Path | None]]:
    for flag, path in [("reference", args.reference), ("layer", args.layer)] + [("target", t) for t in args.target]:
        check_input_file(flag, path)
    if not 0.0 <= args.opacity <= 1.0:
        raise ValueError(f"--opacity must be in [0, 1], got {args.opacity}")
    if args.official and not args.preset:
        raise ValueError("--official needs --preset (celebahq_edge: the authors' CelebA-HQ edge checkpoint)")
    if args.preset and not args.official:
        raise ValueError(f"--preset {args.preset} needs --official DIR (the checkpoint's latest_net_Corr.pth)")
    if args.official and not Path(args.official).is_dir():
        raise FileNotFoundError(f"--official folder not found: {args.official}")
    if args.image_size is not None and (args.image_size <= 0 or args.image_size % 32):
        raise ValueError(f"--image-size must be a positive multiple of 32, got {args.image_size}")
    return outputs(args)


def run(args: argparse.Namespace) -> int:
    paths = check_inputs(args)
    from cocosnet.data.io import save_image
    from cocosnet.makeup import CorrespondenceWarp, FaceFinder, MakeupTransfer

    finder = FaceFinder()
    warp = None
    if args.official:
        warp = CorrespondenceWarp.from_official(args.official, args.preset, finder.connections, args.image_size,
                                                args.device)
    transfer = MakeupTransfer(warp, finder)
    print(f"correspondence: {transfer.correspondence}")
    results = transfer.transfer(args.reference, args.layer, args.target, args.blend, args.opacity)
    for note in dict.fromkeys(n for r in results for n in r.notes):
        print(f"note: {note}")
    for result, (out, layer_out) in zip(results, paths, strict=True):
        save_image(out, result.image)
        written = str(out)
        if layer_out is not None:
            save_image(layer_out, result.warped_rgba())
            written += f" and {layer_out}"
        print(f"wrote {written}")
    transfer.close()
    return 0
