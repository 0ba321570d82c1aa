"""`cocosnet landscapes`: procedural scenes — a contact sheet, or a split written to disk (images, label PNGs,
exemplar pairs and the oracle answer key)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from cocosnet.data.io import save_image
from cocosnet.data.landscapes import FAMILIES, make_layout, make_style, render, scene_seeds
from cocosnet.fileio import atomic_write_text
from cocosnet.presets import LANDSCAPE_COLORS
from cocosnet.viz import colorize


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--contact-sheet", metavar="PNG", help="write a contact sheet: layouts, renderings, style swaps"
    )
    p.add_argument("--count", type=int, default=16, help="scenes on the sheet / items to write (default 16)")
    p.add_argument("--size", type=int, default=128, help="pixels per tile / image size (default 128)")
    p.add_argument("--seed", type=int, default=0, help="first layout seed of the sheet")
    p.add_argument(
        "--write", metavar="DIR", help="write a split: DIR/{images,labels,exemplars,oracles}, pairs, JSON"
    )
    p.add_argument("--split", default="test", choices=("train", "val", "test"), help="split for --write")


def contact_sheet(count: int = 16, size: int = 128, seed: int = 0, columns: int = 2) -> np.ndarray:
    """Rows of [layout | rendering in style A | same layout in style B | B's own scene], `columns` side by
    side.
    """
    tiles = []
    for i in range(count):
        lay = make_layout(seed + i, size)
        style_a = make_style(seed + 1000 + i)
        style_b = make_style(
            seed + 2000 + i, FAMILIES[(FAMILIES.index(style_a.family) + 1 + i % 6) % len(FAMILIES)]
        )
        other = make_layout(seed + 3000 + i, size)
        row = np.concatenate([colorize(lay.labels, LANDSCAPE_COLORS), render(lay, style_a), render(lay, style_b),
                              render(other, style_b)], 1)
        pil = Image.fromarray(row)
        d = ImageDraw.Draw(pil)
        d.text((3, 2), f"{lay.kind}", fill=(0, 0, 0))
        d.text((size + 3, 2), style_a.family, fill=(255, 255, 255))
        d.text((2 * size + 3, 2), f"-> {style_b.family}", fill=(255, 255, 255))
        d.text((3 * size + 3, 2), "exemplar", fill=(255, 255, 255))
        tiles.append(np.asarray(pil))
    pad = np.full((tiles[0].shape[0], 6, 3), 255, np.uint8)
    rows_per_col = (count + columns - 1) // columns
    cols = []
    for c in range(columns):
        part = tiles[c * rows_per_col : (c + 1) * rows_per_col]
        while len(part) < rows_per_col:
            part.append(np.full_like(tiles[0], 255))
        cols.append(np.concatenate(part, 0))
    out = [cols[0]]
    for c in cols[1:]:
        out += [np.repeat(pad, cols[0].shape[0] // pad.shape[0], 0), c]
    return np.concatenate(out, 1)


def write_split(out: Path, split: str, count: int, size: int) -> None:
    from cocosnet.data.landscapes_dataset import LandscapesDataset

    ds = LandscapesDataset(split, size, count)
    meta, pairs = [], {}
    for i in range(count):
        s = ds[i]
        name = f"{scene_seeds(split, i)[0]}"
        save_image(out / "images" / f"{name}.png", s["image"])
        save_image(out / "labels" / f"{name}.png", s["label"][0].numpy().astype(np.uint8))
        save_image(out / "exemplars" / f"{name}.png", s["exemplar"])
        save_image(out / "exemplar_labels" / f"{name}.png", s["exemplar_label"][0].numpy().astype(np.uint8))
        save_image(out / "oracles" / f"{name}.png", s["oracle"])
        pairs[f"{name}.png"] = [f"{name}.png"]
        meta.append(
            {
                "key": s["key"],
                "file": f"{name}.png",
                "style_family": s["style_family"],
                "image_family": s["image_family"],
            }
        )
    atomic_write_text(out / "landscapes.json", json.dumps(meta, indent=1))


def run(args: argparse.Namespace) -> int:
    if not args.contact_sheet and not args.write:
        raise ValueError("nothing to do: give --contact-sheet PNG and/or --write DIR")
    if args.contact_sheet:
        sheet = contact_sheet(args.count, args.size, args.seed)
        save_image(args.contact_sheet, sheet)
        print(f"wrote {args.contact_sheet} ({sheet.shape[1]}x{sheet.shape[0]})")
    if args.write:
        write_split(Path(args.write), args.split, args.count, args.size)
        print(f"wrote {args.count} {args.split} scenes to {args.write}")
    return 0
