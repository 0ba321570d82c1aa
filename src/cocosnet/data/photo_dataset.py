"""A training data set from a folder of photos (`cocosnet prepare-dataset`): per photo the semantic input a
preset needs, written in the layout of that preset's own data set, so `train --data` and `evaluate --data` read
it as they read the official one; a seeded train/val split; a resumable record of what was done.

Layouts (photo ids are numbers, `00000`.., in the sorted order of the photos; `prepare_dataset.json` maps them
back to the photos):

* face -> celebahq_edge: `CelebA-HQ-img/<id>.png`, `CelebAMask-HQ-mask-anno/<id // 2000>/<id:05d>_<part>.png`
  (MediaPipe Face Mesh part masks; the data set draws the 15-channel edge encoding from them), `train.txt`,
  `val.txt`.
* pose -> deepfashion: `img/<id:05d>.png`, `pose/<id:05d>.json` (COCO-18 keypoints from MediaPipe Pose),
  `train.txt`, `val.txt`. Every photo is its own outfit: training pairs are pseudo pairs (the official setting).
* labels -> ade20k: `images/{training,validation}/<id:05d>.png` and `annotations/<same>/<id:05d>.png` (the
  user's class-id maps, ids 0..150, 255 = don't-care).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from cocosnet.data.errors import DataError
from cocosnet.data.io import check_label_ids, read_image, read_label_array, save_image
from cocosnet.fileio import atomic_write_text, check_output_path

# task -> the data set (and preset) whose layout it writes
TASK_DATASETS = {"face": "celebahq_edge", "pose": "deepfashion", "labels": "ade20k"}
MANIFEST = "prepare_dataset.json"
LOG = "prepare_dataset.log.jsonl"
SETTINGS = ("task", "size", "min_size", "val_fraction", "seed")


def split_photos(names: list[str], val_fraction: float, seed: int) -> dict[str, str]:
    """name -> 'train' | 'val': the round(fraction * n) names (at least one when fraction > 0 and n > 1) with the
    smallest SHA-256 of `seed:name` go to val. Depends only on the names and the seed, not on their order."""
    if not 0 <= val_fraction < 1:
        raise ValueError(f"--val-fraction must be in [0, 1), got {val_fraction}")
    ranked = sorted(names, key=lambda n: hashlib.sha256(f"{seed}:{n}".encode()).hexdigest())
    n_val = round(val_fraction * len(names))
    if val_fraction > 0 and len(names) > 1:
        n_val = min(max(n_val, 1), len(names) - 1)
    val = set(ranked[:n_val])
    return {n: "val" if n in val else "train" for n in names}


@dataclass(frozen=True)
class PhotoRecord:
    """What became of one photo: its id and split, and the files written, or the reason it was skipped."""

    photo: str
    id: int
    split: str
    files: tuple[str, ...] = ()
    skipped: str | None = None

    def to_json(self) -> str:
        d = {"photo": self.photo, "id": self.id, "split": self.split, "files": list(self.files)}
        if self.skipped is not None:
            d["skipped"] = self.skipped
        return json.dumps(d)


class DatasetManifest:
    """`prepare_dataset.json` (settings and the photo -> id/split assignment, written atomically) and
    `prepare_dataset.log.jsonl` (one line per finished photo, appended and fsynced after its files were
    written atomically; a torn last line from a killed run is ignored). A rerun skips every logged photo
    whose files are all there."""

    def __init__(self, out: Path, settings: dict, photos: list[str], val_fraction: float, seed: int):
        self.out = out
        self.settings = settings
        head = self._read_head()
        if head is not None and head.get("settings") != settings:
            theirs = ", ".join(f"{k} {head.get('settings', {}).get(k)}" for k in SETTINGS)
            raise ValueError(f"{out} was prepared with other settings ({theirs}): use a new --out, or the same "
                             f"settings to continue it")
        ids: dict[str, int] = dict(head["ids"]) if head else {}
        splits: dict[str, str] = dict(head["splits"]) if head else {}
        new = [p for p in photos if p not in ids]
        drawn = split_photos(photos, val_fraction, seed)
        nxt = max(ids.values(), default=-1) + 1
        for p in new:
            ids[p], splits[p] = nxt, drawn[p]
            nxt += 1
        self.ids, self.splits = ids, splits
        atomic_write_text(out / MANIFEST, json.dumps({"settings": settings, "ids": ids, "splits": splits}, indent=1))
        self.done = self._read_log()

    def _read_head(self) -> dict | None:
        path = self.out / MANIFEST
        if not path.is_file():
            return None
        try:
            head = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(head, dict) or not {"settings", "ids", "splits"} <= head.keys():
                raise ValueError("missing keys")
        except ValueError as exc:
            raise DataError(f"unreadable manifest of an earlier run ({exc}); use a new --out", path) from exc
        return head

    def _read_log(self) -> dict[str, PhotoRecord]:
        path = self.out / LOG
        done: dict[str, PhotoRecord] = {}
        if not path.is_file():
            return done
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                d = json.loads(line)
                rec = PhotoRecord(d["photo"], int(d["id"]), d["split"], tuple(d["files"]), d.get("skipped"))
            except (ValueError, KeyError, TypeError):
                continue  # a line torn by an interrupted run: that photo is done again
            if rec.photo in self.ids and all((self.out / f).is_file() for f in rec.files):
                done[rec.photo] = rec
        return done

    def record(self, rec: PhotoRecord) -> None:
        path = self.out / LOG
        check_output_path(path)
        with open(path, "a", encoding="utf-8") as f:
            f.write(rec.to_json() + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.done[rec.photo] = rec


class PhotoTask:
    """Writes one photo's files in the layout of `TASK_DATASETS[task]`; raises DataError with the reason a
    photo is unusable (unreadable, too small, no face, no person, no label map)."""

    def __init__(self, task: str, size: int, min_size: int, labels: Path | None = None):
        if task not in TASK_DATASETS:
            raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASK_DATASETS)}")
        self.task, self.size, self.min_size, self.labels = task, size, min_size, labels
        self._tool = None

    @property
    def dataset(self) -> str:
        return TASK_DATASETS[self.task]

    def tool(self):
        """MediaPipe is started once, on the first photo that needs it (a resumed run may need none)."""
        if self._tool is None:
            if self.task == "face":
                from cocosnet.data.mediapipe_tools import FaceParser

                self._tool = FaceParser()
            elif self.task == "pose":
                from cocosnet.data.prepare import PhotoEncoder

                self._tool = PhotoEncoder("pose")
        return self._tool

    def label_file(self, photo: Path) -> Path | None:
        hits = [self.labels / f"{photo.stem}{ext}" for ext in (".png", ".PNG")] if self.labels else []
        return next((p for p in hits if p.is_file()), None)

    def _photo(self, path: Path) -> np.ndarray:
        pil = read_image(path)
        if min(pil.size) < self.min_size:
            raise DataError(f"too small ({pil.width}x{pil.height}; --min-size {self.min_size})", path)
        if self.size:
            pil = pil.resize((self.size, self.size), Image.BICUBIC)
        return np.asarray(pil)

    def write(self, out: Path, path: Path, ident: int, split: str) -> tuple[str, ...]:
        """The files written for this photo (relative to `out`)."""
        img = self._photo(path)
        files: dict[str, np.ndarray] = {}
        if self.task == "face":
            parts = self.tool()(img)
            if parts is None:
                raise DataError("no face found", path)
            files[f"CelebA-HQ-img/{ident}.png"] = img
            for part, mask in parts.items():
                if mask.any():
                    rel = f"CelebAMask-HQ-mask-anno/{ident // 2000}/{ident:05d}_{part}.png"
                    files[rel] = mask.astype(np.uint8) * 255
        elif self.task == "pose":
            try:
                _, _, keypoints = self.tool()(img)
            except DataError as exc:
                raise DataError(str(exc), path) from exc
            files[f"img/{ident:05d}.png"] = img
        else:
            lp = self.label_file(path)
            if lp is None:
                raise DataError(f"no label map {self.labels / (path.stem + '.png')}", path)
            lab = read_label_array(lp)
            check_label_ids(lab, 151, lp)
            if lab.shape != img.shape[:2] and not self.size:
                raise DataError(f"label map {lab.shape[1]}x{lab.shape[0]} does not match the photo "
                                f"({img.shape[1]}x{img.shape[0]})", lp)
            if self.size:
                lab = np.asarray(Image.fromarray(lab.astype(np.uint8)).resize((self.size, self.size), Image.NEAREST))
            folder = "training" if split == "train" else "validation"
            files[f"images/{folder}/{ident:05d}.png"] = img
            files[f"annotations/{folder}/{ident:05d}.png"] = lab.astype(np.uint8)
        for rel, arr in files.items():
            save_image(out / rel, arr)
        names = tuple(files)
        if self.task == "pose":
            rel = f"pose/{ident:05d}.json"
            atomic_write_text(out / rel, json.dumps(keypoints))
            names += (rel,)
        return names

    def write_split_lists(self, out: Path, records: list[PhotoRecord]) -> None:
        """train.txt / val.txt of the face and pose layouts (the labels layout splits by folder)."""
        if self.task == "labels":
            return
        for split in ("train", "val"):
            names = [r.files[0] for r in records if r.skipped is None and r.split == split]
            if self.task == "face":
                names = [Path(n).name for n in names]
            atomic_write_text(out / f"{split}.txt", "".join(n + "\n" for n in names))
