"""`cocosnet make-pairs`: write an exemplar pair list (`key,ref1,ref2,...`, easiest first) for a data set."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from cocosnet.data import DATASETS, build_dataset
from cocosnet.data.pairs import make_pairs, write_pairs
from cocosnet.fileio import check_output_path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", choices=[d for d in DATASETS if d != "landscapes"], help="data set kind")
    p.add_argument("root", help="data set root folder")
    p.add_argument("--split", default="train", choices=("train", "val", "test"))
    p.add_argument("--out", help="output file (default: ROOT/pairs_<split>.txt, read by the data set)")
    p.add_argument("-k", "--refs", type=int, default=10, help="exemplars per key (default 10)")
    p.add_argument(
        "--candidates",
        choices=("same", "train"),
        default=None,
        help="where exemplars come from: this split, or the training split (default: as the data set "
        "does, i.e. training split for val/test)",
    )
    p.add_argument("--size", type=int, default=128, help="resolution at which label maps are compared")
    p.add_argument("--label-nc", type=int, default=0, help="folder data set: number of classes")
    p.add_argument(
        "--feature-fn",
        metavar="MODULE:FUNC",
        help="also compare photos with FUNC(image [3,H,W] in [-1,1]) -> vector (e.g. VGG features)",
    )
    p.add_argument("--feature-weight", type=float, default=0.5, help="weight of --feature-fn similarity")
    p.add_argument("--skip-bad", action="store_true", help="skip unreadable/bad files with a warning")


def _load_fn(spec: str):
    mod, _, fn = spec.partition(":")
    if not fn:
        raise ValueError(f"--feature-fn must be MODULE:FUNC, got {spec!r}")
    return getattr(importlib.import_module(mod), fn)


def run(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else Path(args.root) / f"pairs_{args.split}.txt"
    check_output_path(out)
    opts = dict(crop_size=args.size, skip_bad=args.skip_bad, pairs={})
    if args.dataset == "folder":
        opts["label_nc"] = args.label_nc
    ds = build_dataset(args.dataset, args.root, args.split, **opts)
    cands = None
    if args.candidates == "same":
        cands = ds.keys
    elif args.candidates == "train" or args.split != "train":
        cands = ds.candidate_keys()
    fn = _load_fn(args.feature_fn) if args.feature_fn else None
    pairs = make_pairs(ds, k=args.refs, feature_fn=fn, extra_weight=args.feature_weight, candidate_keys=cands)
    write_pairs(out, pairs)
    msg = f"wrote {len(pairs)} entries to {out}"
    if ds.bad.count:
        msg += f" ({ds.bad.count} bad files skipped)"
    print(msg)
    return 0
