"""The multi-exemplar grid of docs/multi_exemplar.md, made with the bundled landscapes model:

    layout | exemplar A | exemplar B | output with A | output with B | output with the sky from B

    PYTHONPATH=src python scripts/multi_exemplar_grid.py [--out docs/results/multi_exemplar/grid.png] [--rows 3]

Layouts and exemplars are the landscapes test split that `cocosnet demo` uses (A: a day scene, B: a sunset one).
"""

from __future__ import annotations

import argparse


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="docs/results/multi_exemplar/grid.png")
    ap.add_argument("--rows", type=int, default=3)
    ap.add_argument("--style-b", default="sunset", help="style family of exemplar B (day, sunset, night, ...)")
    args = ap.parse_args()

    from cocosnet.commands.demo import pick_pairs
    from cocosnet.data.landscapes_dataset import LandscapesDataset
    from cocosnet.inference import Translator
    from cocosnet.inference.default_model import default_checkpoint
    from cocosnet.viz import label_palette, save_grid, semantic_cell

    tr = Translator.from_pretrained(default_checkpoint(), device="cpu")
    samples = pick_pairs(LandscapesDataset("test", size=tr.cfg.image_size, length=1000), 8)
    a = next(s for s in samples if s["style_family"] == "day")
    b = next(s for s in samples if s["style_family"] == args.style_b)
    sky = tr.cfg.class_names.index("sky")
    palette = label_palette(tr.cfg)
    rows = []
    layouts = [s for s in samples if (s["label"] == sky).any() and s is not a and s is not b][: args.rows]
    for s in layouts:
        exemplars, labels = [a["exemplar"], b["exemplar"]], [a["exemplar_label"], b["exemplar_label"]]
        with_a = tr.translate(s["label"], a["exemplar"], a["exemplar_label"]).image[0]
        with_b = tr.translate(s["label"], b["exemplar"], b["exemplar_label"]).image[0]
        sky_b = tr.translate_multi(s["label"], exemplars, labels, assign={"sky": 1}).image[0]
        rows.append([semantic_cell(s["label"], palette), a["exemplar"], b["exemplar"], with_a, with_b, sky_b])
    print(f"wrote {save_grid(rows, args.out)} ({len(rows)} rows: layout | exemplar A ({a['style_family']}) | "
          f"exemplar B ({b['style_family']}) | output with A | output with B | output with the sky from B)")


if __name__ == "__main__":
    main()
