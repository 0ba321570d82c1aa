"""Exemplar pair lists: the official `<ds>_ref.txt` format (`key,ref1,ref2,...`, easiest first) and their
construction from a data set by layout similarity (`cocosnet.data.retrieval`), optionally mixed with a
user-supplied feature (e.g. VGG)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from cocosnet.data.errors import DataError
from cocosnet.data.retrieval import layout_descriptor, rank_pairs
from cocosnet.fileio import atomic_write_text

label_features = layout_descriptor  # the name before retrieval had its own module

__all__ = ["format_pairs", "label_features", "make_pairs", "rank_pairs", "read_pairs", "write_pairs"]


def read_pairs(path: str | Path) -> dict[str, list[str]]:
    """An official pair list as it is: {key: [ref1, ref2, ...]} (blank lines and '#' comments ignored)."""
    path = Path(path)
    if not path.is_file():
        raise DataError("pair list not found", path)
    out: dict[str, list[str]] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split(",")]
        if not parts[0]:
            raise DataError(f"line {n}: empty key", path)
        out[parts[0]] = [p for p in parts[1:] if p]
    return out


def format_pairs(pairs: dict[str, Sequence[str]]) -> str:
    for k, refs in pairs.items():
        for s in (k, *refs):
            if "," in s or "\n" in s:
                raise ValueError(f"names in a pair list may not contain ',' or newlines: {s!r}")
    return "".join(",".join([k, *refs]) + "\n" for k, refs in pairs.items())


def write_pairs(path: str | Path, pairs: dict[str, Sequence[str]]) -> Path:
    """Write a pair list atomically (temp file + rename)."""
    return atomic_write_text(path, format_pairs(pairs))


def make_pairs(
    dataset,
    k: int = 10,
    *,
    feature_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
    extra_weight: float = 0.5,
    candidate_keys: Sequence[str] | None = None,
    progress: bool = True,
) -> dict[str, list[str]]:
    """Pair list of a data set (anything with `keys`, `label_nc`, `load_semantic(key)` and, when `feature_fn`
    is given, `load_photo(key)`) by layout similarity (`layout_descriptor`), optionally mixed with `feature_fn(image)`
    ([3,H,W] in [-1,1] -> vector; e.g. VGG features, passed in so the data layer needs no model).
    Candidates: `candidate_keys` (any keys the data set can load), default its own keys."""
    keys = list(dataset.keys)
    cands = list(keys if candidate_keys is None else candidate_keys)
    wanted = list(dict.fromkeys(keys + cands))
    feats: dict[str, np.ndarray] = {}
    extra: dict[str, np.ndarray] = {}
    for key in tqdm(wanted, desc="describe", unit="img", disable=not progress):
        feats[key] = layout_descriptor(dataset.load_semantic(key), max(dataset.label_nc, 1))
        if feature_fn is not None:
            with torch.no_grad():
                extra[key] = np.asarray(feature_fn(dataset.load_photo(key)), np.float32).ravel()

    def stack(d: dict[str, np.ndarray], ks: list[str]) -> np.ndarray | None:
        return np.stack([d[x] for x in ks]) if d else None

    return rank_pairs(
        keys,
        stack(feats, keys),
        k,
        candidate_keys=cands,
        candidate_features=stack(feats, cands),
        extra=stack(extra, keys),
        candidate_extra=stack(extra, cands),
        extra_weight=extra_weight,
        progress=progress,
    )
