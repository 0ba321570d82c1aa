"""`cocosnet demo`: the README's first command — landscapes test layouts translated with exemplars of other
styles by the bundled model, written as a results grid (layout | exemplar | warped | output | oracle)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", metavar="DIR", help="native checkpoint folder (default: the bundled model)")
    p.add_argument("--out", default="results/demo", help="output folder (default: results/demo)")
    p.add_argument("--num", type=int, default=8, help="number of test pairs, spread over the style families")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])


def pick_pairs(dataset, num: int) -> list[dict]:
    """The first pairs of the test split, taking one per exemplar style family before repeating families."""
    chosen, seen, rest = [], set(), []
    for i in range(min(len(dataset), 8 * num)):
        sample = dataset[i]
        (rest if sample["style_family"] in seen else chosen).append(sample)
        seen.add(sample["style_family"])
        if len(chosen) >= num:
            break
    return (chosen + rest)[:num]


def run(args: argparse.Namespace) -> int:
    from cocosnet.data.io import save_image
    from cocosnet.data.landscapes_dataset import LandscapesDataset
    from cocosnet.evaluation.report import grid_row, write_grid
    from cocosnet.fileio import check_output_dir
    from cocosnet.inference import Translator
    from cocosnet.inference.default_model import default_checkpoint
    from cocosnet.viz import label_palette

    check_output_dir(args.out)
    translator = Translator.from_pretrained(args.checkpoint or default_checkpoint(), device=args.device)
    cfg = translator.cfg
    samples = pick_pairs(LandscapesDataset("test", size=cfg.image_size, length=1000), args.num)
    out = Path(args.out)
    palette = label_palette(cfg)
    rows = []
    for i, s in enumerate(samples):
        result = translator.translate(s["label"], s["exemplar"], s["exemplar_label"])
        name = f"{i:02d}_{s['style_family']}"
        save_image(out / "examples" / f"{name}_layout.png", s["label"][0].numpy().astype(np.uint8))
        save_image(out / "examples" / f"{name}_exemplar.png", s["exemplar"])
        save_image(out / "examples" / f"{name}_exemplar_label.png", s["exemplar_label"][0].numpy().astype(np.uint8))
        save_image(out / f"{name}_output.png", result.image[0])
        rows.append(grid_row(s["label"], s["exemplar"], result.warped[0], result.image[0], s["oracle"], palette))
    grid = write_grid(rows, out / "grid.png")
    print(f"wrote {grid} ({len(rows)} rows: layout | exemplar | warped exemplar | output | oracle)")
    print(f"inputs in {out / 'examples'}; translate your own with `cocosnet translate --input LAYOUT.png "
          "--exemplar PHOTO --exemplar-label LABEL.png --out out.png`")
    print("open the painter: `cocosnet serve`, then browse to http://127.0.0.1:7860")
    return 0
