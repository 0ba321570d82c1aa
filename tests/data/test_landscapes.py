import numpy as np
import pytest
import torch
from torch.utils.data import default_collate

from cocosnet.data.landscapes import (
    FAMILIES,
    GRASS,
    MOUNTAIN,
    NUM_CLASSES,
    SEA,
    SKY,
    Layout,
    estimate_horizon,
    label_histogram,
    make_layout,
    make_style,
    render,
    scene_seeds,
)
from cocosnet.data.landscapes_dataset import LandscapesDataset


def test_layout_deterministic_and_valid():
    a, b = make_layout(7, 96), make_layout(7, 96)
    assert a.labels.dtype == np.uint8 and a.labels.shape == (96, 96)
    assert np.array_equal(a.labels, b.labels)
    assert a.labels.max() < NUM_CLASSES
    assert not np.array_equal(a.labels, make_layout(8, 96).labels)


def test_layout_is_a_scene_not_blobs():
    for seed in range(12):
        lay = make_layout(seed, 64)
        lab = lay.labels
        top_row, bottom_row = lab[0], lab[-1]
        assert (top_row == SKY).mean() > 0.9, seed  # sky on top
        assert (bottom_row == SKY).sum() == 0, seed  # never sky at the bottom
        assert (lab == 0).sum() == 0
        # sky pixels all above the horizon band, ground classes below it
        rows_sky = np.nonzero((lab == SKY).any(1))[0]
        assert rows_sky.max() < lay.horizon * 64 + 2
        assert abs(estimate_horizon(lab) - lay.horizon) < 0.12


def test_layout_same_scene_at_any_size():
    small, big = make_layout(3, 64), make_layout(3, 256)
    down = big.labels[2::4, 2::4]
    assert (down == small.labels).mean() > 0.9
    assert small.kind == big.kind


def test_scene_kinds_cover_all_classes():
    seen = set()
    for seed in range(60):
        seen |= set(np.unique(make_layout(seed, 48).labels).tolist())
    assert seen == set(range(1, NUM_CLASSES))


def test_style_families_and_determinism():
    assert {make_style(s).family for s in range(60)} == set(FAMILIES)
    s1, s2 = make_style(5, "winter"), make_style(5, "winter")
    assert s1.family == "winter" and np.array_equal(s1.palette, s2.palette)
    with pytest.raises(ValueError, match="unknown style family"):
        make_style(1, "spring")


def test_render_deterministic_textured_and_style_dependent():
    lay = make_layout(11, 96, kind="coast")
    st = make_style(2, "day")
    a, b = render(lay, st), render(lay, st)
    assert a.dtype == np.uint8 and a.shape == (96, 96, 3)
    assert np.array_equal(a, b)
    # textured: within one class the colour varies
    sea = lay.labels == SEA
    assert a[sea].std(0).mean() > 2.0
    # another style changes the picture, the same style with another texture seed changes it less
    night = render(lay, make_style(2, "night"))
    assert np.abs(night.astype(int) - a).mean() > 40
    assert a.mean() > night.mean() + 40


def test_render_water_reflects_sky_at_sunset():
    lay = make_layout(0, 96, kind="coast")
    sunset = render(lay, make_style(1, "sunset")).astype(float)
    sea = lay.labels == SEA
    # red dominates blue on the sea at sunset (reflected sky), not in daylight
    assert sunset[sea][:, 0].mean() > sunset[sea][:, 2].mean()
    day = render(lay, make_style(1, "day")).astype(float)
    assert day[sea][:, 2].mean() > day[sea][:, 0].mean()


def test_render_accepts_bare_label_map_and_rejects_bad_ids():
    lab = np.full((40, 40), SKY, np.uint8)
    lab[20:] = GRASS
    lab[15:20, 10:30] = MOUNTAIN
    img = render(lab, make_style(0, "day"))
    assert img.shape == (40, 40, 3)
    assert img[30:, :, 1].mean() > img[30:, :, 2].mean()  # grass is green
    with pytest.raises(ValueError, match="0..9"):
        render(np.full((8, 8), 12, np.uint8), make_style(0))


def test_label_histogram():
    lab = np.array([[1, 1], [6, 9]], np.uint8)
    h = label_histogram(lab)
    assert h[1] == 0.5 and h[6] == 0.25 and h[9] == 0.25 and h.sum() == 1.0


def test_split_seed_ranges_disjoint():
    seen = {}
    for split in ("train", "val", "test"):
        for i in (0, 1, 499_999_999):
            for s in scene_seeds(split, i):
                assert s not in seen, (split, i, seen.get(s))
                seen[s] = split
    trains = {scene_seeds("train", i)[0] for i in range(50)}
    tests = {scene_seeds("test", i)[0] for i in range(50)}
    assert not trains & tests
    ds_tr, ds_te = LandscapesDataset("train", 32, 5), LandscapesDataset("test", 32, 5)
    assert not {ds_tr.key(i) for i in range(5)} & {ds_te.key(i) for i in range(5)}


def test_test_pairs_carry_the_oracle():
    ds = LandscapesDataset("test", 64, 6)
    s = ds[2]
    assert s["label"].dtype == torch.long and s["label"].shape == (1, 64, 64)
    for k in ("image", "exemplar", "oracle"):
        assert s[k].dtype == torch.float32 and s[k].shape == (3, 64, 64)
        assert -1 <= s[k].min() and s[k].max() <= 1
    assert float(s["self_ref"]) == 0.0
    assert s["style_family"] != s["image_family"]
    lay = ds.layout(2)
    j = ds.partner(2)
    assert j != 2
    style_b = ds.exemplar_style(2, j)
    want = torch.from_numpy(render(lay, style_b).astype(np.float32)).permute(2, 0, 1) / 127.5 - 1
    assert torch.allclose(s["oracle"], want, atol=1e-6)
    assert torch.equal(s["label"][0], torch.from_numpy(lay.labels.astype(np.int64)))
    # the exemplar is another layout
    assert not torch.equal(s["exemplar_label"], s["label"])
    # deterministic
    assert torch.equal(ds[2]["exemplar"], s["exemplar"])


def test_train_pairs_follow_the_official_choice():
    ds = LandscapesDataset("train", 64, 40)
    batch = default_collate([ds[i] for i in range(40)])
    assert batch["image"].shape == (40, 3, 64, 64)
    self_ref = batch["self_ref"]
    n_pseudo = int(self_ref.sum())
    assert 4 <= n_pseudo <= 22  # p = 0.3
    for i in range(40):
        if self_ref[i] == 1:
            assert torch.equal(batch["oracle"][i], batch["image"][i])
            assert batch["style_family"][i] == batch["image_family"][i]
        else:
            assert not torch.equal(batch["exemplar_label"][i], batch["label"][i])
    ds.set_epoch(1)
    assert not torch.equal(ds[0]["image"], batch["image"][0])  # new crop/flip draw per epoch


def test_retrieval_ranks_by_histogram():
    ds = LandscapesDataset("train", 64, 30)
    refs = ds.retrieve(0, np.random.default_rng(0))
    mine = np.sqrt(label_histogram(ds.layout(0, 32).labels))
    sims = [mine @ np.sqrt(label_histogram(ds.layout(j, 32).labels)) for j in refs]
    assert sims == sorted(sims, reverse=True) and 0 not in refs and len(refs) == 8


def test_layout_object():
    lay = make_layout(1, 32)
    assert isinstance(lay, Layout) and lay.size == (32, 32)
    with pytest.raises(ValueError, match="unknown scene kind"):
        make_layout(1, 32, kind="moon")
