"""Every loss against values computed by hand (plain Python arithmetic) on tiny tensors."""

from __future__ import annotations

import math

import pytest
import torch

from cocosnet import losses as L


def _cx_by_hand(x: list[list[float]], y: list[list[float]], h: float = 0.1) -> float:
    """Contextual loss of one sample; x, y: lists of positions, each a list of channel values."""
    n = len(x)
    xs, ys = [], []
    for i in range(n):
        mu = sum(y[i]) / len(y[i])  # the exemplar's per-position channel mean centres both sides
        xc = [v - mu for v in x[i]]
        yc = [v - mu for v in y[i]]
        nx = math.sqrt(sum(v * v for v in xc)) + 2.220446049250313e-16
        ny = math.sqrt(sum(v * v for v in yc)) + 2.220446049250313e-16
        xs.append([v / nx for v in xc])
        ys.append([v / ny for v in yc])
    cx = 0.0
    for i in range(n):
        d = [1 - sum(a * b for a, b in zip(xs[i], ys[j], strict=True)) for j in range(n)]
        dmin = min(d)
        w = [math.exp((1 - dj / (dmin + 1e-3)) / h) for dj in d]
        cx += max(wj / sum(w) for wj in w)
    return -math.log(cx / n)


def _as_map(positions: list[list[float]]) -> torch.Tensor:
    """[N positions][C] -> [1, C, 1, N]."""
    return torch.tensor(positions, dtype=torch.float64).T.reshape(1, len(positions[0]), 1, len(positions))


def test_contextual_loss_matches_hand_computation():
    # similar directions, so that several exemplar positions compete and the loss is far from 0
    x = [[1.0, 0.0, 0.5], [0.9, 0.1, 0.5], [0.3, 0.3, 1.0]]
    y = [[0.8, 0.1, 0.4], [1.0, 0.05, 0.45], [0.5, 0.2, 0.9]]
    got = L.contextual_loss(_as_map(x), _as_map(y))
    assert got.shape == (1,)
    expected = _cx_by_hand(x, y)
    assert expected > 0.1  # a real, non-trivial value
    assert got.item() == pytest.approx(expected, rel=1e-5)


def test_contextual_loss_per_sample_and_identity():
    torch.manual_seed(0)
    x = torch.randn(2, 4, 3, 3)
    y = x.clone()
    y[1] = torch.randn(4, 3, 3)
    loss = L.contextual_loss(x, y)
    assert loss.shape == (2,)
    assert loss[0].item() == pytest.approx(0.0, abs=1e-4)  # identical features: every A_ii ~ 1
    assert loss[1].item() > 0.01  # unrelated features: the best match is far from exclusive


def test_contextual_vgg_loss_weights_layers():
    torch.manual_seed(0)
    fake = {"r52": torch.randn(2, 4, 2, 2), "r42": torch.randn(2, 4, 4, 4), "r32": torch.randn(2, 4, 8, 8)}
    ref = {k: torch.randn_like(v) for k, v in fake.items()}
    got = L.contextual_vgg_loss(fake, ref)
    pooled = L.contextual_loss(torch.nn.functional.avg_pool2d(fake["r32"], 2), torch.nn.functional.avg_pool2d(
        ref["r32"], 2))
    expected = (8 * L.contextual_loss(fake["r52"], ref["r52"]).mean() + 4 * L.contextual_loss(
        fake["r42"], ref["r42"]).mean() + 2 * pooled.mean())
    assert got.item() == pytest.approx(expected.item(), rel=1e-6)


def _two_scales(logits_a, logits_b, feats=None):
    feats = feats or [torch.zeros(1)]
    return [[*feats, torch.tensor(logits_a)], [*feats, torch.tensor(logits_b)]]


def test_hinge_losses_by_hand():
    pred = _two_scales([0.5, -2.0], [1.5, 0.0])
    # G: -mean per scale: -(-0.75) = 0.75 and -(0.75) = -0.75 -> average 0
    assert L.hinge_generator_loss(pred).item() == pytest.approx((0.75 + -0.75) / 2)
    # D fake: mean(relu(1 + x)): scale 0 (1.5 + 0)/2 = 0.75, scale 1 (2.5 + 1)/2 = 1.75 -> 1.25
    assert L.hinge_discriminator_loss(pred, real=False).item() == pytest.approx(1.25)
    # D real: mean(relu(1 - x)): scale 0 (0.5 + 3)/2 = 1.75, scale 1 (0 + 1)/2 = 0.5 -> 1.125
    assert L.hinge_discriminator_loss(pred, real=True).item() == pytest.approx(1.125)


def test_split_and_discriminator_feature_matching():
    # batch of 2 = [fake, real]; two layers + logits per scale
    s0 = [torch.tensor([[1.0, 2.0], [1.5, 1.0]]), torch.tensor([[0.0], [2.0]]), torch.tensor([[9.0], [-9.0]])]
    s1 = [torch.tensor([[3.0], [1.0]]), torch.tensor([[4.0]] * 2), torch.tensor([[0.0], [0.0]])]
    fake, real = L.split_discriminator_output([s0, s1])
    assert fake[0][2].item() == 9.0 and real[0][2].item() == -9.0
    # scale 0: L1 layer0 = (0.5 + 1.0)/2 = 0.75, layer1 = 2; scale 1: 2 and 0; logits excluded; / num_D = 2
    assert L.discriminator_feature_matching_loss(fake, real).item() == pytest.approx((0.75 + 2 + 2 + 0) / 2)


def test_pseudo_pair_feature_matching_and_warp_self():
    self_ref = torch.tensor([1.0, 0.0, 1.0])
    w = L.pseudo_pair_weights(self_ref)
    assert w.tolist() == pytest.approx([1 / (2 + 1e-5), 0.0, 1 / (2 + 1e-5)])
    assert L.pseudo_pair_weights(self_ref, total=torch.tensor(4.0)).tolist() == pytest.approx([0.25, 0, 0.25], rel=1e-5)
    fake = [torch.full((3, 1, 1, 1), 2.0) for _ in range(5)]
    real = [torch.tensor([1.0, -5.0, 4.0]).reshape(3, 1, 1, 1) for _ in range(5)]
    # per layer: mean over the 3 samples of w_i * |f - r| = (0.5*1 + 0*7 + 0.5*2) / 3 = 0.5
    per_layer = (0.5 * 1 + 0.5 * 2) / 3
    expected = sum(lw * per_layer for lw in (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0))
    assert L.feature_matching_loss(fake, real, w).item() == pytest.approx(expected, rel=1e-4)
    # warp-self: the same weighting on the warped image
    warp = torch.zeros(3, 1, 1, 2)
    gt = torch.tensor([[1.0, 3.0], [100.0, 100.0], [0.0, 2.0]]).reshape(3, 1, 1, 2)
    # mean over 6 elements of w*|warp-gt| = (0.5*(1+3) + 0.5*(0+2)) / 6
    assert L.warp_self_loss(warp, gt, w).item() == pytest.approx((0.5 * 4 + 0.5 * 2) / 6, rel=1e-4)


def test_perceptual_and_domain_alignment():
    a = torch.tensor([1.0, 2.0, 3.0]).reshape(1, 3, 1, 1)
    b = torch.tensor([1.0, 0.0, 5.0]).reshape(1, 3, 1, 1)
    assert L.perceptual_loss(a, b).item() == pytest.approx((0 + 4 + 4) / 3)
    # domain alignment normalises each position: (3,4)->(0.6,0.8), (0,2)->(0,1): L1 mean = (0.6 + 0.2)/2
    seg = torch.tensor([3.0, 4.0]).reshape(1, 2, 1, 1)
    img = torch.tensor([0.0, 2.0]).reshape(1, 2, 1, 1)
    assert L.domain_alignment_loss(seg, img).item() == pytest.approx(0.4, rel=1e-6)


def test_warp_cycle_pools_to_the_cycle_resolution():
    exemplar = torch.arange(16.0).reshape(1, 1, 4, 4).expand(1, 3, 4, 4)
    cycle = torch.zeros(1, 3, 2, 2)
    # 2x2 block means of 0..15 laid out 4x4: 2.5, 4.5, 10.5, 12.5 -> mean 7.5
    assert L.warp_cycle_loss(cycle, exemplar).item() == pytest.approx(7.5)
    # full resolution (patch warp): L1 to the exemplar itself
    assert L.warp_cycle_loss(torch.zeros(1, 3, 4, 4), exemplar).item() == pytest.approx(7.5)


def test_warped_label_loss_mask_weighting():
    # 2x2 warped probabilities over 3 classes; input label ids; the exemplar contains classes {0, 1} only
    p = torch.tensor([
        [[0.5, 0.1], [0.2, 0.3]],  # class 0
        [[0.25, 0.8], [0.7, 0.3]],  # class 1
        [[0.25, 0.1], [0.1, 0.4]],  # class 2
    ]).unsqueeze(0)
    label = torch.tensor([[[[1, 1], [2, 0]]]])  # pixel (1,0) class 2: absent from exemplar; (1,1) class 0: ignored
    exemplar_label = torch.tensor([[[[0, 1], [1, 0]]]])
    w = L.warped_label_weights(label[:, 0], exemplar_label[:, 0], 3)
    assert w.tolist() == [[[1.0, 1.0], [0.0, 0.0]]]
    expected = (-math.log(0.25 + 1e-10) - math.log(0.8 + 1e-10)) / (2 + 1e-5)
    assert L.warped_label_loss(p, label, exemplar_label).item() == pytest.approx(expected, rel=1e-6)
    # labels at 2x the warp resolution are nearest-downsampled (top-left of each 2x2 block)
    big = label.repeat_interleave(2, -1).repeat_interleave(2, -2)
    big_ref = exemplar_label.repeat_interleave(2, -1).repeat_interleave(2, -2)
    assert L.warped_label_loss(p, big, big_ref).item() == pytest.approx(expected, rel=1e-6)
    # a global normaliser replaces the local weight sum
    assert L.warped_label_loss(p, label, exemplar_label, total_weight=4.0).item() == pytest.approx(
        expected * (2 + 1e-5) / (4 + 1e-5), rel=1e-6)


def test_losses_accept_bfloat16_and_return_float32():
    x = torch.tensor([0.5, -1.0, 2.0, 0.25], dtype=torch.bfloat16).reshape(1, 4, 1, 1)
    assert L.contextual_loss(x, x.clone()).dtype == torch.float32
    assert L.perceptual_loss(x, x + 1).dtype == torch.float32
    assert L.perceptual_loss(x, x + 1).item() == pytest.approx(1.0)
