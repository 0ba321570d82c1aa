"""Exemplar retrieval: the photos of a collection whose layout (and, optionally, look) is most like a query's.

The paper trains on retrieved exemplars and the painter offers them; both start from the same descriptor, the class
histograms of a label map over a spatial pyramid of cells (`class_histograms`). Two comparisons of it, because two
callers need different things from a score:

* `histogram_intersection` (the web app's gallery): averaged over cells and levels, exactly 1 for the same layout
  and 0 for no shared class, so a user can read it; one query at a time.
* `layout_descriptor` (pair lists of a whole data set): square-rooted, weighted histograms whose dot product is
  the Bhattacharyya coefficient, so all keys rank against all candidates as one matrix product (`rank_pairs`).

Photo features (e.g. VGG activations) mix in as a cosine similarity; they come in as a callable or as arrays, so
the data layer needs no model. Only numpy and torch are imported here: the app may use this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

PYRAMID = (1, 2, 4)


def _cell_bounds(length: int, n: int) -> list[tuple[int, int]]:
    """The n cells along one axis as adaptive average pooling draws them (a row is shared when n does not divide)."""
    return [((i * length) // n, -((-(i + 1) * length) // n)) for i in range(n)]


def class_histograms(ids: np.ndarray, label_nc: int, levels: Iterable[int] = PYRAMID) -> list[np.ndarray]:
    """Per pyramid level n, a float32 [n*n, label_nc] array of the class frequencies in each cell (rows sum to 1;
    cells in row-major order). Ids outside 0..label_nc-1 count as the nearest valid class."""
    ids = np.clip(np.asarray(ids), 0, label_nc - 1)
    h, w = ids.shape
    out = []
    for n in levels:
        if h % n == 0 and w % n == 0:  # a partition: one bincount for all cells
            cell = ((np.arange(h) * n) // h)[:, None] * n + ((np.arange(w) * n) // w)[None, :]
            hist = np.bincount((cell * label_nc + ids).ravel(), minlength=n * n * label_nc).reshape(n * n, label_nc)
        else:
            hist = np.stack([np.bincount(ids[r0:r1, c0:c1].ravel(), minlength=label_nc)
                             for r0, r1 in _cell_bounds(h, n) for c0, c1 in _cell_bounds(w, n)])
        hist = hist.astype(np.float32)
        out.append(hist / np.maximum(hist.sum(1, keepdims=True), 1))
    return out


def histogram_intersection(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    """Histogram intersection averaged over cells and levels: 1 for the same layout, 0 for no shared class."""
    return float(np.mean([np.minimum(x, y).sum(1).mean() for x, y in zip(a, b, strict=True)]))


def rank_by_intersection(query: list[np.ndarray], candidates: Mapping[str, list[np.ndarray]],
                         k: int) -> list[tuple[str, float]]:
    """The k candidates (name -> `class_histograms`) most like the query, best first, with their scores; ties go
    to the smaller name."""
    scored = [(name, histogram_intersection(query, hists)) for name, hists in candidates.items()]
    scored.sort(key=lambda pair: (-pair[1], pair[0]))
    return scored[:k]


def layout_descriptor(label: torch.Tensor | np.ndarray, label_nc: int, grid: int = 2) -> np.ndarray:
    """A semantic input as a float32 vector whose dot product with another is their similarity in [0, 1].

    Class-id maps (integer, [H,W] or [1,H,W]): square roots of the class histogram of the whole map (weight 1/2)
    and of each cell of a grid x grid partition (weight 1/2 shared), so the dot product is the weighted
    Bhattacharyya coefficient of the histograms. Dense maps ([C,H,W] float): the 8x8 average-pooled maps,
    L2-normalised (cosine similarity).
    """
    label = torch.as_tensor(label)
    if not label.is_floating_point():
        whole, cells = class_histograms(label.reshape(-1, *label.shape[-2:])[0].numpy(), label_nc, (1, grid))
        weights = np.float32(np.sqrt(0.5)), np.float32(np.sqrt(0.5 / (grid * grid)))
        return np.concatenate([weights[0] * np.sqrt(whole[0]), weights[1] * np.sqrt(cells).ravel()])
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

    `features` are descriptors whose dot product is the similarity (see `layout_descriptor`); `extra` optional
    descriptors (e.g. VGG features), L2-normalised here and mixed in as `(1-w)*label_sim + w*cosine`.
    Candidates default to the keys themselves (a key is never its own exemplar when `exclude_self`).
    Ties go to the earlier candidate.
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
        top = torch.sort(sim, dim=1, descending=True, stable=True).indices[:, :k]
        for r, key in enumerate(keys[s : s + chunk]):
            out[key] = [candidate_keys[int(j)] for j in top[r]]
        bar.update(min(chunk, len(keys) - s))
    bar.close()
    return out
