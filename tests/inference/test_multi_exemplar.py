"""Multi-exemplar translation: each region's warp is its own exemplar's alone, one exemplar everywhere is exactly
the single-exemplar output, auto assignment, and every error."""

import numpy as np
import pytest
import torch
from PIL import Image

from cocosnet.inference import Translator
from cocosnet.inference.multi_exemplar import auto_table, class_id, composite
from cocosnet.model import CoCosNet
from cocosnet.presets import get_model_config


@pytest.fixture(scope="module", params=["bilinear", "patch"])
def translator(request):
    """A tiny maskmix model (random weights: the checks are about which pixels depend on which exemplar)."""
    torch.manual_seed(0)
    cfg = get_model_config("tiny", maskmix=True, warp=request.param)
    return Translator(CoCosNet(cfg), device="cpu")


@pytest.fixture(scope="module")
def scene():
    """A 64x64 layout: sky (6) on top, water (3) bottom left, grass (7) bottom right; three random exemplars."""
    label = np.full((64, 64), 6, np.uint8)
    label[32:, :32] = 3
    label[32:, 32:] = 7
    rng = np.random.default_rng(1)
    photos = [rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for _ in range(3)]
    return label, photos


def test_a_region_of_exemplar_k_does_not_depend_on_exemplar_j(translator, scene):
    label, photos = scene
    assign = {"sky": 1, "water": 2}
    first = translator.translate_multi(label, photos, [label] * 3, assign=assign)
    changed = [photos[0], 255 - photos[1], photos[2]]  # exemplar 1 (the sky's) changes
    second = translator.translate_multi(label, changed, [label] * 3, assign=assign)
    expected = torch.zeros(1, 64, 64, dtype=torch.long)
    expected[:, :32] = 1
    expected[:, 32:, :32] = 2
    assert torch.equal(first.assignment, expected)
    not_sky = expected != 1
    for k in (0, 2):  # each exemplar's own warp: pixel for pixel the same
        assert torch.equal(first.warps[k], second.warps[k])
    assert not torch.equal(first.warps[1], second.warps[1])
    mask = not_sky[:, None].expand(-1, 3, -1, -1)
    assert torch.equal(first.warped[mask], second.warped[mask])  # the composite outside the sky
    assert not torch.equal(first.warped[~mask], second.warped[~mask])
    # the composite is each exemplar's warp where it is assigned
    for k in range(3):
        sel = (expected == k)[:, None].expand(-1, 3, -1, -1)
        assert torch.equal(first.warped[sel], first.warps[k][sel])


@pytest.mark.parametrize("k", [0, 1])
def test_every_pixel_on_one_exemplar_is_exactly_the_single_exemplar_output(translator, scene, k):
    label, photos = scene
    single = translator.translate(label, photos[k], label)
    everything = {name: k for name in ("unlabeled", "sky", "water", "grass")}
    multi = translator.translate_multi(label, photos[:2], [label, label], assign=everything)
    assert torch.equal(multi.image, single.image) and torch.equal(multi.warped, single.warped)
    if k == 0:  # no assignment at all: exemplar 0 everywhere
        plain = translator.translate_multi(label, photos[:2], [label, label])
        assert torch.equal(plain.image, single.image)
    full = np.ones((64, 64), bool)
    masked = translator.translate_multi(label, photos[:2], [label, label], region_masks=[(full, k)])
    assert torch.equal(masked.image, single.image)


def test_region_masks_override_classes_and_are_resized_as_the_layout(translator, scene, tmp_path):
    label, photos = scene
    big = np.kron(label, np.ones((2, 2), np.uint8))  # a 128x128 layout, resized to 64 like its mask
    mask = np.zeros((128, 128), np.uint8)
    mask[:20, :20] = 255
    Image.fromarray(mask).save(tmp_path / "m.png")
    later = np.zeros((128, 128), bool)
    later[:10, :10] = True
    out = translator.translate_multi(big, photos, [label] * 3, assign={"sky": 1},
                                     region_masks=[(tmp_path / "m.png", 2), (later, 0)])
    a = out.assignment[0]
    assert (a[:5, :5] == 0).all() and (a[5:10, 5:10] == 2).all() and (a[:10, 10:] == 1).all()
    assert (a[32:] == 0).all()
    assert int((a == 2).sum()) == 10 * 10 - 5 * 5


def test_auto_assignment_takes_the_exemplar_holding_a_class_most(translator):
    a = np.full((64, 64), 6, np.uint8)  # exemplar 0: all sky
    a[48:] = 3  # a little water
    b = np.full((64, 64), 3, np.uint8)  # exemplar 1: mostly water
    b[:8] = 6
    b[8:16] = 7  # and some grass
    table = auto_table([torch.from_numpy(a), torch.from_numpy(b)], 10)
    assert table.tolist() == [0, 0, 0, 1, 0, 0, 0, 1, 0, 0]  # water, grass from 1; sky and absent classes from 0
    same = auto_table([torch.full((4, 4), 5), torch.full((4, 4), 5)], 10)
    assert int(same[5]) == 0  # ties go to the lowest index
    layout = np.full((64, 64), 6, np.uint8)
    layout[32:] = 3
    photos = [np.zeros((64, 64, 3), np.uint8), np.full((64, 64, 3), 200, np.uint8)]
    out = translator.translate_multi(layout, photos, [a, b], assign="auto")
    assert torch.equal(out.assignment[0], torch.from_numpy((layout == 3).astype(np.int64)))
    forced = translator.translate_multi(layout, photos, [a, b], assign={"auto": True, "water": 0, "sky": 1})
    assert torch.equal(forced.assignment[0], torch.from_numpy((layout == 6).astype(np.int64)))


def test_composite_copies_each_pixel_from_its_warp():
    warps = torch.arange(2 * 1 * 3 * 2 * 2, dtype=torch.float32).reshape(2, 1, 3, 2, 2)
    out = composite(warps, torch.tensor([[[0, 1], [1, 0]]]))
    assert out[0, :, 0, 1].tolist() == warps[1, 0, :, 0, 1].tolist()
    assert out[0, :, 0, 0].tolist() == warps[0, 0, :, 0, 0].tolist()


def test_errors_name_the_problem(translator, scene):
    label, photos = scene
    cfg = translator.cfg
    with pytest.raises(ValueError, match=r"unknown class 'skyy' for preset 'tiny'; its classes: unlabeled, road, "
                                         r"rock, water, sand, sea, sky, grass, mountain, tree"):
        translator.translate_multi(label, photos[:2], [label] * 2, assign={"skyy": 1})
    with pytest.raises(ValueError, match=r"class id 10 out of range: preset 'tiny' has classes 0\.\.9"):
        class_id(10, cfg)
    assert class_id("SKY", cfg) == 6 and class_id("6", cfg) == 6
    with pytest.raises(ValueError, match=r"class 'sky': exemplar index 2 out of range: 2 exemplars \(0\.\.1\)"):
        translator.translate_multi(label, photos[:2], [label] * 2, assign={"sky": 2})
    with pytest.raises(ValueError, match=r"region mask 0: exemplar index -1 out of range"):
        translator.translate_multi(label, photos[:2], [label] * 2, region_masks=[(np.ones((64, 64)), -1)])
    with pytest.raises(ValueError, match=r"region mask 0 is 32x16 \(WxH\) but the input layout is 64x64"):
        translator.translate_multi(label, photos[:2], [label] * 2, region_masks=[(np.ones((16, 32)), 1)])
    with pytest.raises(ValueError, match=r"3 exemplars but 2 exemplar label maps"):
        translator.translate_multi(label, photos, [label] * 2)
    with pytest.raises(ValueError, match=r"needs each exemplar's label map"):
        translator.translate_multi(label, photos, None)
    with pytest.raises(ValueError, match=r"assign must be a mapping"):
        translator.translate_multi(label, photos[:2], [label] * 2, assign="sky")
    with pytest.raises(ValueError, match=r"give at least one exemplar"):
        translator.translate_multi(label, [], [])
    with pytest.raises(FileNotFoundError, match=r"region mask /nope.png not found"):
        translator.translate_multi(label, photos[:2], [label] * 2, region_masks=[("/nope.png", 1)])


def test_auto_without_exemplar_labels_is_refused():
    torch.manual_seed(0)
    tr = Translator(CoCosNet(get_model_config("tiny", maskmix=False)), device="cpu")  # labels optional
    label = np.full((64, 64), 6, np.uint8)
    photo = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(ValueError, match=r"'auto' assignment needs each exemplar's label map"):
        tr.translate_multi(label, [photo, photo], assign="auto")
    out = tr.translate_multi(label, [photo, 255 - photo], assign={"sky": 1})
    assert (out.assignment == 1).all()
