"""Data layer: procedural landscapes with their answer key, the official data sets, encoders, pair lists.

Every data set returns the same sample dict (see docs/data.md): `label`, `image`, `exemplar`,
`exemplar_label`, `self_ref`, `key` (+ `oracle`, `style_family` for landscapes). This package never imports
the models; features for retrieval come in as a callable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cocosnet.data.errors import DataError
from cocosnet.data.io import load_image, load_label
from cocosnet.presets import canonical_name

DATASETS = (
    "landscapes",
    "ade20k",
    "ade20k_outdoor",
    "celebahq_edge",
    "celebahq_mask",
    "deepfashion",
    "folder",
)


PROCEDURAL = "landscapes"  # the one --data value that is not a folder


def data_folder(data: str, kind: str | None = None) -> Path | None:
    """The one `--data` rule of `train` and `evaluate`: only the literal 'landscapes' is the procedural set (None);
    anything else is a data set folder that must exist (DataError naming it), read as `kind` (never as the
    procedural landscapes, whatever the preset's default data set)."""
    if data == PROCEDURAL:
        return None
    folder = Path(data)
    if not folder.is_dir():
        raise DataError("data set folder not found" if not folder.exists() else "not a folder", data)
    if kind is not None and canonical_name(kind) == PROCEDURAL:
        raise ValueError(f"the landscapes are generated, not read from {data}: use --data {PROCEDURAL}, or say "
                         f"which kind of data set the folder holds with --dataset NAME")
    return folder


def build_dataset(name: str, root: str | Path | None = None, split: str = "train", **opts: Any):
    """A data set by name: landscapes (root unused; `size`/`crop_size`, `length`), ade20k, ade20k_outdoor,
    celebahq_edge, celebahq_mask, deepfashion, folder. Options go to the data set's constructor
    (`crop_size`, `load_size`, `flip`, `pairs`, `skip_bad`, `seed`, ...)."""
    key = canonical_name(name)
    if key == "landscapes":
        from cocosnet.data.landscapes_dataset import LandscapesDataset

        size = opts.pop("size", None) or opts.pop("crop_size", 256)
        opts.pop("skip_bad", None)
        return LandscapesDataset(split, size, **opts)
    from cocosnet.data import datasets as D

    classes = {
        "ade20k": D.ADE20kDataset,
        "ade20k_outdoor": D.ADE20kOutdoorDataset,
        "celebahq_edge": D.CelebAHQEdgeDataset,
        "celebahq_mask": D.CelebAHQMaskDataset,
        "deepfashion": D.DeepFashionDataset,
        "folder": D.FolderDataset,
    }
    if key not in classes:
        raise KeyError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    if root is None:
        raise ValueError(f"data set {name!r} needs a root folder")
    return classes[key](root, split, **opts)


__all__ = ["DATASETS", "PROCEDURAL", "DataError", "build_dataset", "data_folder", "load_image", "load_label"]
