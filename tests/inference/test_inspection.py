"""The correspondence inspector: confidence 1 where the match is exact, the flow of a shifted exemplar is the
shift, the chunked statistics are the dense ones, the image does not change, and the classes an exemplar lacks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from cocosnet.correspondence import Correspondence
from cocosnet.inference import Translator
from cocosnet.inference.inspection import (
    MissingClass,
    cell_centres,
    inspect_features,
    match_statistics,
    missing_classes,
)
from cocosnet.nn import softmax_attention
from cocosnet.nn.patch_match import patch_cosine_error_bound, patch_cosines
from cocosnet.presets import get_model_config
from cocosnet.runtime import RuntimeOptions

ULP = 2.0**-24  # float32 unit roundoff


def correspondence(**overrides) -> Correspondence:
    torch.manual_seed(0)
    return Correspondence(get_model_config("tiny", **overrides)).eval()


def features(cfg, seed: int = 1) -> torch.Tensor:
    """Random theta/phi-like features [1,C,fh,fw]: distinct positions have clearly different match vectors."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1, cfg.corr_channels, cfg.feature_size, cfg.feature_size, generator=g)


def test_confidence_is_one_where_the_match_is_exact():
    corr = correspondence()
    cfg = corr.cfg
    theta = features(cfg)
    found = inspect_features(corr, theta, theta.clone())  # exemplar = input: each position matches itself
    # the softmax's largest weight is 1 / (1 + sum_j!=i exp((c_ij - c_ii) / T)) for the cosines c of the match
    # vectors: 1 - confidence <= that sum, plus a few float32 roundings (score, exp, sum, division) at 1
    # (the cosines the inspector soft-maxes: the warp's patch cosines, cocosnet.nn.patch_match)
    c = patch_cosines(theta, theta, cfg.match_kernel)[0]
    gap = (c - c.diag()[:, None]) / cfg.temperature
    gap.fill_diagonal_(-math.inf)
    bound = torch.exp(gap).sum(1).reshape(1, 1, cfg.feature_size, cfg.feature_size)
    bound = torch.nn.functional.interpolate(bound, scale_factor=cfg.feature_stride, mode="bilinear")
    assert (found.confidence <= 1 + 4 * ULP).all()
    assert (1 - found.confidence <= bound + 16 * ULP).all()
    assert (bound < 1e-6).float().mean() > 0.99  # self-matches dominate: the bound says "1" almost everywhere
    assert (found.confidence > 1 - 1e-6).float().mean() > 0.99
    assert found.flow.abs().max() < 1e-3 and found.flow_argmax.abs().max() == 0


@pytest.mark.parametrize("overrides", [{}, {"warp": "patch"}, {"warp": "nearest", "feature_stride": 2},
                                       {"warp": "nearest", "feature_stride": 1}],
                         ids=["bilinear-4", "patch-4", "nearest-2", "stride-1"])
@pytest.mark.parametrize("cells", [(2, -1), (-3, 1)])
def test_the_flow_of_a_shifted_exemplar_is_the_shift(overrides, cells):
    corr = correspondence(**overrides)
    cfg = corr.cfg
    s, n, size = cfg.feature_stride, cfg.feature_size, cfg.image_size
    dx, dy = cells
    phi = features(cfg)
    theta = torch.roll(phi, shifts=(-dy, -dx), dims=(2, 3))  # input cell (x, y) looks like exemplar (x+dx, y+dy)
    found = inspect_features(corr, theta, phi)
    # interior: the cell, its 3x3 context, its match's context and (bilinear) the neighbours it blends with
    # stay off the zero padding and the roll's seam
    m = 2
    ys = slice((m + max(0, -dy)) * s, (n - m - max(0, dy)) * s)
    xs = slice((m + max(0, -dx)) * s, (n - m - max(0, dx)) * s)
    want = torch.tensor([dx * s, dy * s], dtype=torch.float32)[:, None, None]
    assert torch.equal(found.flow_argmax[0, :, ys, xs], want.expand(2, *found.flow[0, :, ys, xs].shape[1:]))
    # the expected position moves off the match by at most (1 - confidence) times the largest distance
    assert (found.confidence[0, 0, ys, xs] > 1 - 1e-5).all()
    assert (found.flow[0, :, ys, xs] - want).abs().max() <= 1e-5 * size * math.sqrt(2) + 1e-3
    if cfg.warp == "patch" or s == 1:  # the warp moves pixels whole: output (x, y) is exemplar (x + dx, y + dy)
        exemplar = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(2)) * 2 - 1
        warped = corr.correlate_and_warp(theta, phi, exemplar, None, False, False, False).warp_out
        shifted = torch.roll(exemplar, shifts=(-dy * s, -dx * s), dims=(2, 3))
        torch.testing.assert_close(warped[..., ys, xs], shifted[..., ys, xs], atol=1e-4, rtol=0)


def test_chunked_statistics_are_the_dense_ones_and_the_warped_coordinate_grid():
    corr = correspondence(temperature=0.05)  # a softer softmax: the expected position is a real average
    cfg = corr.cfg
    phi = features(cfg, 4)
    q = corr._match_vectors(phi + 3 * features(cfg, 3))  # the exemplar's features under noise: sure and unsure
    k = corr._match_vectors(phi)
    n, d = q.shape[1], q.shape[2]
    scale = 1 / cfg.temperature
    pos = cell_centres(cfg.feature_size, cfg.feature_size, cfg.feature_stride)
    dense = match_statistics(q, k, scale, pos, chunk=n)
    chunked = match_statistics(q, k, scale, pos, chunk=60)  # 5 blocks, the last one short
    # a score of two unit vectors rounds by at most d ulps times the scale; a weight by ~2x that, relatively
    rel = 2 * d * ULP * scale
    torch.testing.assert_close(chunked[0], dense[0], rtol=rel, atol=0)
    torch.testing.assert_close(chunked[1], dense[1], rtol=0, atol=rel * cfg.image_size)
    sure = dense[0] > 0.6  # a unique best match by a margin of log(1.5) in the scores
    assert sure.any() and (~sure).any() and torch.equal(chunked[2][sure], dense[2][sure])
    # the expected position is the coordinate grid warped as the colours are
    warped_grid = softmax_attention(q, k, pos[None].expand(1, -1, -1), scale, "chunked", 48)
    torch.testing.assert_close(dense[1], warped_grid, rtol=0, atol=rel * cfg.image_size)
    assert ((dense[0] >= 1 / k.shape[1] - ULP) & (dense[0] <= 1 + ULP)).all()


def test_the_inspector_reads_the_warps_own_logits():
    """With the default warp the inspector soft-maxes the patch cosines (cocosnet.nn.patch_match), with `chunked`
    the unfolded vectors' cosines; the two differ by rounding. A logit error δ moves each softmax weight by at most
    2·max|δ| relatively (first order): the confidences agree to that, and the default path's are the largest
    weights of the patch cosines' softmax."""
    torch.manual_seed(0)
    cfg = get_model_config("tiny", temperature=0.05)
    auto = Correspondence(cfg).eval()
    unfolded = Correspondence(cfg, RuntimeOptions(warp_impl="chunked")).eval()
    phi = features(cfg, 4)
    theta = phi + 3 * features(cfg, 3)
    with torch.no_grad():
        got, want = inspect_features(auto, theta, phi), inspect_features(unfolded, theta, phi)
        p = torch.softmax(patch_cosines(theta, phi, cfg.match_kernel) / cfg.temperature, -1)
    u = torch.finfo(torch.float32).eps / 2
    d = cfg.corr_channels * cfg.match_kernel**2
    logit = (patch_cosine_error_bound(theta, phi, cfg.match_kernel).max().item() + (d + 4) * u) / cfg.temperature
    rel = 2 * logit + 8 * u
    torch.testing.assert_close(got.confidence, want.confidence, rtol=rel, atol=0)
    n = cfg.feature_size
    conf = p.amax(-1).reshape(1, 1, n, n)
    conf = torch.nn.functional.interpolate(conf, scale_factor=cfg.feature_stride, mode="bilinear")
    # the inspector folds 1/temperature into the key scale, patch_cosines divides after: each logit (at most
    # 1/temperature) rounds by ~3u relatively either way, a weight by twice the logit's absolute change
    same = 2 * 3 * u / cfg.temperature + 8 * u
    torch.testing.assert_close(got.confidence, conf, rtol=same, atol=0)


def test_inspection_leaves_the_image_alone_and_reads_the_models_features(tiny_checkpoint):
    translator = Translator.from_pretrained(tiny_checkpoint, device="cpu")
    label = np.full((64, 64), 6)
    label[40:] = 7
    label[50:, :20] = 3
    exemplar_label = np.full((64, 64), 6)
    exemplar_label[32:] = 8
    photo = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    plain = translator.translate(label, photo, exemplar_label)
    seen = translator.translate(label, photo, exemplar_label, inspect=True)
    assert torch.equal(plain.image, seen.image) and torch.equal(plain.warped, seen.warped)
    assert plain.confidence is None and plain.flow is None and plain.missing_classes is None
    assert seen.confidence.shape == (1, 1, 64, 64) and seen.flow.shape == seen.flow_argmax.shape == (1, 2, 64, 64)
    assert seen.missing_classes == [[MissingClass(3, "water"), MissingClass(7, "grass")]]
    # the same numbers as the inspection of the correspondence run by hand
    model, cfg = translator.model, translator.cfg
    ids = translator.prepare_semantic(label)[None]
    ex_sem = model.encode(translator.prepare_semantic(exemplar_label)[None])
    with torch.inference_mode():  # (class ids let SPADE look its first convolution up, as the translator does)
        out = model.correspondence(model.encode(ids), translator.prepare_exemplar(photo)[None], ex_sem,
                                   label_ids=ids[:, 0], return_intermediates=True)
        want = inspect_features(model.correspondence, out.theta, out.phi)
    torch.testing.assert_close(seen.confidence, want.confidence, rtol=0, atol=1e-6)
    assert torch.equal(seen.flow_argmax, want.flow_argmax)
    m = cfg.feature_size ** 2
    assert (seen.confidence >= 1 / m - ULP).all() and (seen.confidence <= 1 + ULP).all()


def test_missing_classes_on_hand_made_label_maps():
    cfg = get_model_config("tiny")
    a = torch.tensor([[6, 6, 7], [3, 3, 7]])[None]
    b = torch.tensor([[6, 6, 8], [8, 8, 8]])[None]
    assert missing_classes(torch.stack([a, b]), torch.stack([b, a]), cfg) == [
        [MissingClass(3, "water"), MissingClass(7, "grass")], [MissingClass(8, "mountain")]]
    assert missing_classes(a[None], a[None], cfg) == [[]]
    ade = get_model_config("ade20k")  # unnamed classes are numbered; the don't-care class is never "missing"
    x = torch.tensor([[5, 150, 2]])[None, None]
    y = torch.tensor([[2, 2, 2]])[None, None]
    assert missing_classes(x, y, ade) == [[MissingClass(5, "class 5")]]


def test_a_dense_map_preset_with_the_patch_warp_in_bfloat16():
    """Edge/pose-like presets (no classes, no exemplar label map): the maps, and no missing classes."""
    from cocosnet.model import CoCosNet

    torch.manual_seed(0)
    cfg = get_model_config("tiny", semantic_nc=3, label_nc=0, class_names=(), class_colors=(), maskmix=False,
                           warp="patch")
    translator = Translator(CoCosNet(cfg), device="cpu", dtype="bfloat16")
    semantic = torch.rand(2, 3, 64, 64)
    exemplar = torch.rand(3, 64, 64) * 2 - 1
    plain = translator.translate(list(semantic), exemplar)
    seen = translator.translate(list(semantic), exemplar, inspect=True)
    assert torch.equal(plain.image, seen.image) and seen.missing_classes is None
    assert seen.confidence.shape == (2, 1, 64, 64) and seen.flow.shape == (2, 2, 64, 64)
    # patches move whole: one displacement per 4x4 patch, a multiple of the stride for the best match
    best = seen.flow_argmax
    assert torch.equal(best, best[..., ::4, ::4].repeat_interleave(4, -1).repeat_interleave(4, -2))
    assert torch.equal(torch.remainder(best, 4), torch.zeros_like(best))
