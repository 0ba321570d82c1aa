"""`cocosnet translate` with several exemplars: --assign CLASS=K / auto and --region-mask MASK.png=K.

Parsed and checked (format, exemplar indices, class names where the preset is known, files, mask sizes) before
torch loads; the semantics are `Translator.translate_multi`'s (docs/multi_exemplar.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cocosnet.commands._common import check_input_file

AUTO = "auto"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--assign", action="append", default=[], metavar="CLASS=K",
                   help="style CLASS (a class name of the model, or an id) from exemplar K (numbered from 0 in the "
                        "order of --exemplar; unassigned classes take exemplar 0); 'auto': each class from the "
                        "exemplar whose label map holds it most (explicit CLASS=K entries still win); repeatable")
    p.add_argument("--region-mask", action="append", default=[], metavar="MASK.png=K",
                   help="style a region from exemplar K: a picture of the input's size, non-zero = region; masks "
                        "override --assign, a later mask an earlier one; repeatable")


def _index(text: str, n_exemplars: int, flag: str, entry: str) -> int:
    try:
        k = int(text)
    except ValueError:
        raise ValueError(f"{flag} {entry}: exemplar index {text!r} is not an integer") from None
    if not 0 <= k < n_exemplars:
        raise ValueError(f"{flag} {entry}: exemplar index {k} out of range: {n_exemplars} --exemplar given "
                         f"(0..{n_exemplars - 1})")
    return k


def _split(entry: str, flag: str, what: str) -> tuple[str, str]:
    name, sep, k = entry.rpartition("=")
    if not sep or not name or not k:
        raise ValueError(f"{flag} {entry!r}: expected {what}=K (K: the exemplar's number, from 0)")
    return name, k


def parse_assignment(args: argparse.Namespace, class_names: tuple[str, ...] | None) -> tuple[dict, list]:
    """(assign mapping for translate_multi, [(mask path, K)]) from the flags, or ValueError naming the entry.
    class_names: the model's classes when known before loading (names are checked again after)."""
    n = len(args.exemplar)
    assign: dict = {}
    for entry in args.assign:
        if entry.strip().lower() == AUTO:
            assign[AUTO] = True
            continue
        name, k = _split(entry, "--assign", "CLASS")
        if class_names and not name.isdigit() and name.lower() not in [c.lower() for c in class_names]:
            raise ValueError(f"--assign {entry}: unknown class {name!r}; the model's classes: "
                             f"{', '.join(class_names)}")
        assign[name] = _index(k, n, "--assign", entry)
    masks = []
    for entry in args.region_mask:
        path, k = _split(entry, "--region-mask", "MASK.png")
        check_input_file("region-mask", path, "mask")
        masks.append((path, _index(k, n, "--region-mask", entry)))
    return assign, masks


def check_counts(args: argparse.Namespace) -> None:
    labels = args.exemplar_label or []
    if labels and len(labels) != len(args.exemplar):
        raise ValueError(f"{len(args.exemplar)} --exemplar but {len(labels)} --exemplar-label: give one label map "
                         f"per exemplar, in the same order")


def check_mask_sizes(input_path: str, masks: list) -> None:
    """A mask must be drawn on the input layout, at its size (read from the headers)."""
    from PIL import Image

    if Path(input_path).suffix.lower() in (".npy", ".npz", ".pt", ".pth"):
        return  # a dense map: its size is checked when it is read
    def header_size(path: str, flag: str) -> tuple[int, int]:
        try:
            with Image.open(path) as im:
                return im.size
        except Exception as exc:  # not a picture, or a decompression bomb: named, never a traceback
            raise ValueError(f"{flag} {path}: cannot read it as a picture ({exc})") from None

    size = header_size(input_path, "--input")
    for path, _ in masks:
        w, h = header_size(path, "--region-mask")
        if (w, h) != size:
            raise ValueError(f"--region-mask {path} is {w}x{h} but --input is {size[0]}x{size[1]}: draw the "
                             f"mask on the input layout, at its size")


def is_multi(args: argparse.Namespace) -> bool:
    return len(args.exemplar) > 1 or bool(args.assign) or bool(args.region_mask)
