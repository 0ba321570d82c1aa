"""Exemplar pair lists: the official `<ds>_ref.txt` format (`key,ref1,ref2,...`, easiest first) and their
construction by label-histogram similarity (optionally mixed with a user-supplied feature, e.g. VGG)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from cocosnet.data.errors import DataError
from cocosnet.fileio import atomic_write_text


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


def label_features(label: torch.Tensor, label_nc: int, grid: int = 2) -> np.ndarray:
    """Retrieval descriptor of a semantic input, made so that a dot product is a similarity in [0, 1].

    Class-id maps ([1,H,W] long): square roots of the normalised class histogram of the whole map (weight 1/2)
    and of each cell of a grid x grid partition (weight 1/2 shared): the dot product of two descriptors is the
    weighted Bhattacharyya coefficient of their histograms. Dense maps ([C,H,W] float): the 8x8 average-pooled
    maps, L2-normalised (cosine similarity).
    """
    if label.dtype == torch.long:
        lab = label.reshape(-1, *label.shape[-2:])[0]
        onehot = F.one_hot(lab.clamp(0, label_nc - 1), label_nc).permute(2, 0, 1).float()[None]
        parts = [np.sqrt(0.5) * torch.sqrt(onehot.mean((2, 3))[0])]
        cells = F.adaptive_avg_pool2d(onehot, grid)[0]  # [C, g, g]
        w = np.sqrt(0.5 / (grid * grid))
        parts += [w * torch.sqrt(cells[:, i, j]) for i in range(grid) for j in range(grid)]
        return torch.cat(parts).numpy().astype(np.float32)
    pooled = F.adaptive_avg_pool2d(label.float().reshape(1, -1, *label.shape[-2:]), 8).flatten()
    return (pooled / pooled.norm().clamp_min(1e-8)).numpy().astype(np.float32)


def rank_pairs(
    keys: Sequence[str],
    features: np.ndarray,
    k: int = 10,
    *,
    candidate_keys: Sequence[str] | None = None,
    candidate_features: np.ndarray | None = None,
    extra: np.ndarray | None = None,
    candidate_extra: np.ndarray | None = None,
    extra_weight: float = 0.5,
    exclude_self: bool = True,
    chunk: int = 256,
    progress: bool = True,
) -> dict[str, list[str]]:
    """For each key, the k most similar candidates, most similar (easiest) first.

    `features` are descriptors whose dot product is the similarity (see `label_features`); `extra` optional
    descriptors (e.g. VGG features), L2-normalised here and mixed in as `(1-w)*label_sim + w*cosine`.
    Candidates default to the keys themselves (a key is never its own exemplar when `exclude_self`).
    """
    if candidate_keys is None:
        candidate_keys, candidate_features, candidate_extra = keys, features, extra
    feats = torch.from_numpy(np.asarray(features, np.float32))
    cands = torch.from_numpy(np.asarray(candidate_features, np.float32))
    use_extra = extra is not None and candidate_extra is not None
    if use_extra:
        ex = F.normalize(torch.from_numpy(np.asarray(extra, np.float32)).flatten(1), dim=1)
        cex = F.normalize(torch.from_numpy(np.asarray(candidate_extra, np.float32)).flatten(1), dim=1)
    index = {c: i for i, c in enumerate(candidate_keys)}
    k = min(k, len(candidate_keys) - (1 if exclude_self else 0))
    if k <= 0:
        raise ValueError("not enough candidates to build a pair list")
    out: dict[str, list[str]] = {}
    bar = tqdm(total=len(keys), desc="pairs", unit="img", disable=not progress)
    for s in range(0, len(keys), chunk):
        sim = feats[s : s + chunk] @ cands.T
        if use_extra:
            sim = (1 - extra_weight) * sim + extra_weight * (ex[s : s + chunk] @ cex.T)
        if exclude_self:
            for r, key in enumerate(keys[s : s + chunk]):
                j = index.get(key)
                if j is not None:
                    sim[r, j] = -float("inf")
        # Stable order: similarity, then candidate position (ties go to the earlier candidate).
        top = torch.sort(sim, dim=1, descending=True, stable=True).indices[:, :k]
        for r, key in enumerate(keys[s : s + chunk]):
            out[key] = [candidate_keys[int(j)] for j in top[r]]
        bar.update(min(chunk, len(keys) - s))
    bar.close()
    return out


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
    is given, `load_photo(key)`) by label-histogram similarity, optionally mixed with `feature_fn(image)`
    ([3,H,W] in [-1,1] -> vector; e.g. VGG features, passed in so the data layer needs no model).
    Candidates: `candidate_keys` (any keys the data set can load), default its own keys."""
    keys = list(dataset.keys)
    cands = list(keys if candidate_keys is None else candidate_keys)
    wanted = list(dict.fromkeys(keys + cands))
    feats: dict[str, np.ndarray] = {}
    extra: dict[str, np.ndarray] = {}
    for key in tqdm(wanted, desc="describe", unit="img", disable=not progress):
        feats[key] = label_features(dataset.load_semantic(key), max(dataset.label_nc, 1))
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
