"""Exemplar retrieval (`cocosnet.data.retrieval`): the one implementation behind pair lists, make-pairs and the
app's gallery ranks exactly as the three separate ones did before it.

`retrieval_rankings_3151efe.json` holds the rankings of the code of commit 3151efe for the layouts below:
`gallery_64` from `app.gallery.label_features` + `similarity` (every map as a query, all scores), `pairs_*` from
`data.pairs.label_features` + `rank_pairs` (keys among themselves, keys against other candidates, mixed with
photo features, dense maps) at 64, 30 and 45 pixels.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cocosnet.data.pairs import make_pairs
from cocosnet.data.retrieval import (
    class_histograms,
    histogram_intersection,
    layout_descriptor,
    rank_by_intersection,
    rank_pairs,
)

BEFORE = json.loads((Path(__file__).parent / "retrieval_rankings_3151efe.json").read_text())


def layouts(size: int, n: int = 16, label_nc: int = 10) -> list[np.ndarray]:
    """Landscape-like label maps: sky over ground at a random horizon, a few rectangles of other classes; two
    exact repeats (ties) and one left-right mirror (the same histogram as a whole, other cells)."""
    rng = np.random.default_rng(size)
    maps = []
    for _ in range(n - 3):
        ids = np.full((size, size), 6, np.int64)
        ids[int(rng.integers(size // 4, 3 * size // 4)):] = int(rng.choice([3, 7, 1]))
        for _ in range(int(rng.integers(1, 4))):
            y, x = rng.integers(0, size, 2)
            h, w = rng.integers(2, size // 2, 2)
            ids[y:y + h, x:x + w] = int(rng.integers(0, label_nc))
        maps.append(ids)
    return maps + [maps[0].copy(), maps[3].copy(), maps[5][:, ::-1].copy()]


def photo_features(n: int, dim: int = 32) -> np.ndarray:
    return np.random.default_rng(7).standard_normal((n, dim)).astype(np.float32)


def keys_of(maps: list) -> list[str]:
    return [f"m{i:02d}" for i in range(len(maps))]


def test_gallery_ranking_is_unchanged():
    maps = layouts(64)
    keys = keys_of(maps)
    hists = {k: class_histograms(m, 10) for k, m in zip(keys, maps, strict=True)}
    for key in keys:
        ranked = rank_by_intersection(hists[key], hists, len(keys))
        assert [[name, round(score, 6)] for name, score in ranked] == BEFORE["gallery_64"][key]


@pytest.mark.parametrize("size", [64, 30, 45])
def test_pair_rankings_are_unchanged(size):
    maps = layouts(size)
    keys = keys_of(maps)
    desc = np.stack([layout_descriptor(torch.from_numpy(m)[None], 10) for m in maps])
    assert rank_pairs(keys, desc, k=6, progress=False) == BEFORE[f"pairs_{size}"]
    half = len(keys) // 2
    assert rank_pairs(keys[:half], desc[:half], k=5, candidate_keys=keys[half:], candidate_features=desc[half:],
                      progress=False) == BEFORE[f"pairs_cands_{size}"]
    extra = photo_features(len(maps))
    assert rank_pairs(keys, desc, k=6, extra=extra, candidate_extra=extra, extra_weight=0.3,
                      progress=False) == BEFORE[f"pairs_vgg_{size}"]
    dense = np.stack([layout_descriptor(torch.from_numpy(np.eye(10, dtype=np.float32)[m].transpose(2, 0, 1)), 10)
                      for m in maps])
    assert rank_pairs(keys, dense, k=6, progress=False) == BEFORE[f"pairs_dense_{size}"]


@pytest.mark.parametrize("size", [64, 45, 17])
def test_class_histograms_are_adaptive_pooling_of_one_hot_maps(size):
    ids = layouts(size)[1]
    onehot = F.one_hot(torch.from_numpy(ids), 10).permute(2, 0, 1).float()[None]
    for n, hist in zip((1, 2, 4), class_histograms(ids, 10), strict=True):
        pooled = F.adaptive_avg_pool2d(onehot, n)[0].permute(1, 2, 0).reshape(n * n, 10).numpy()
        assert hist.dtype == np.float32 and hist.shape == (n * n, 10)
        np.testing.assert_allclose(hist, pooled, atol=1e-7, rtol=0)
        np.testing.assert_allclose(hist.sum(1), 1, atol=1e-6)


def test_out_of_range_ids_count_as_the_nearest_class():
    ids = np.array([[-3, 0], [9, 42]])
    (whole,) = class_histograms(ids, 10, (1,))
    assert whole[0, 0] == 0.5 and whole[0, 9] == 0.5


def test_histogram_intersection_reads_as_a_share_of_the_layout():
    sky = np.full((8, 8), 6)
    half = sky.copy()
    half[4:] = 7  # the bottom half is grass
    a, b = class_histograms(sky, 10), class_histograms(half, 10)
    assert histogram_intersection(a, a) == 1.0
    assert histogram_intersection(a, class_histograms(np.full((8, 8), 7), 10)) == 0.0
    # whole image 1/2; 2x2 cells: two of four shared; 4x4: eight of sixteen
    assert histogram_intersection(a, b) == pytest.approx(0.5)


def test_rank_by_intersection_breaks_ties_by_name_and_cuts_at_k():
    sky, grass = class_histograms(np.full((4, 4), 6), 10), class_histograms(np.full((4, 4), 7), 10)
    candidates = {"b": sky, "a": sky, "c": grass}
    assert rank_by_intersection(sky, candidates, 3) == [("a", 1.0), ("b", 1.0), ("c", 0.0)]
    assert rank_by_intersection(grass, candidates, 1) == [("c", 1.0)]


def test_layout_descriptor_dot_product_is_the_bhattacharyya_coefficient():
    a, b = layouts(32)[2], layouts(32)[4]
    ha, hb = class_histograms(a, 10, (1, 2)), class_histograms(b, 10, (1, 2))
    expected = 0.5 * np.sqrt(ha[0] * hb[0]).sum() + 0.5 * np.sqrt(ha[1] * hb[1]).sum(1).mean()
    da, db = layout_descriptor(torch.from_numpy(a)[None], 10), layout_descriptor(b, 10)
    assert da.dtype == np.float32 and da.shape == (10 * 5,)
    assert float(da @ db) == pytest.approx(expected, abs=1e-6)
    assert float(da @ da) == pytest.approx(1.0, abs=1e-6)


def test_rank_pairs_by_histogram():
    labs = [torch.zeros(1, 8, 8, dtype=torch.long) for _ in range(3)]
    labs[0][0, :4] = 1  # half class 1
    labs[1][0, :3] = 1  # 3/8 class 1 (close to 0)
    labs[2][0, :] = 2  # all class 2 (far)
    f = np.stack([layout_descriptor(x, 3) for x in labs])
    assert float(f[0] @ f[0]) == pytest.approx(1.0, abs=1e-6)
    pairs = rank_pairs(["a", "b", "c"], f, k=2, progress=False)
    assert pairs["a"] == ["b", "c"] and pairs["b"] == ["a", "c"]


def test_rank_pairs_needs_candidates():
    f = np.ones((1, 4), np.float32)
    with pytest.raises(ValueError, match="not enough candidates"):
        rank_pairs(["only"], f, k=3, progress=False)


class MapsDataset:
    """What `make_pairs` reads of a data set."""

    label_nc = 10

    def __init__(self, maps):
        self.maps = dict(zip(keys_of(maps), maps, strict=True))
        self.keys = list(self.maps)

    def load_semantic(self, key):
        return torch.from_numpy(self.maps[key])[None]

    def load_photo(self, key):
        return torch.from_numpy(photo_features(len(self.keys))[self.keys.index(key)])


def test_make_pairs_ranks_a_data_set_like_the_recorded_lists():
    ds = MapsDataset(layouts(45))
    assert make_pairs(ds, k=6, progress=False) == BEFORE["pairs_45"]
    assert make_pairs(ds, k=6, feature_fn=lambda photo: photo, extra_weight=0.3,
                      progress=False) == BEFORE["pairs_vgg_45"]
