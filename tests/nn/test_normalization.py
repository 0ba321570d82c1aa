"""PositionalNorm and SPADE: the official conventions (ARCHITECTURE.md §9) and the same numbers in both modes."""

import math

import pytest
import torch
import torch.nn.functional as F

from cocosnet.nn import SPADE, PositionalNorm2d, feature_normalize
from cocosnet.nn.normalization import l2_norm, onehot_conv3x3

from ..helpers.grad_modes import assert_same_in_both_modes


def test_positional_norm_uses_unbiased_variance():
    x = torch.tensor([1.0, 2.0, 3.0]).view(1, 3, 1, 1)
    # mean 2, unbiased variance ((1)^2 + 0 + 1^2) / (3 - 1) = 1
    expected = torch.tensor([-1.0, 0.0, 1.0]) / math.sqrt(1 + 1e-5)
    assert torch.allclose(PositionalNorm2d()(x).flatten(), expected, atol=1e-7)


def test_positional_norm_is_the_same_in_both_modes():
    torch.manual_seed(0)
    assert_same_in_both_modes(PositionalNorm2d(), torch.randn(2, 7, 5, 6) * 3 + 1)


def test_feature_normalize_adds_machine_epsilon():
    x = torch.tensor([[3.0, 0.0], [4.0, 0.0]]).view(1, 2, 1, 2)
    out = feature_normalize(x)
    assert torch.allclose(out[0, :, 0, 0], torch.tensor([0.6, 0.8]))
    assert torch.equal(out[0, :, 0, 1], torch.zeros(2))  # 0 / (0 + eps), no NaN


def test_positional_norm_matches_var_mean_in_float64_for_either_layout():
    # the two-pass variance against torch's Welford var_mean (the official formula), NCHW and channels-last
    torch.manual_seed(0)
    x = torch.randn(2, 33, 6, 5, dtype=torch.float64) * 5 + 3
    var, mean = torch.var_mean(x, dim=1, keepdim=True, correction=1)
    want = (x - mean) / torch.sqrt(var + 1e-5)
    for layout in (torch.contiguous_format, torch.channels_last):
        with torch.no_grad():
            got = PositionalNorm2d()(x.to(memory_format=layout))
        # float64, 33 channels of |x| <= ~25: the means differ by <= 33u·25 ≈ 1e-13 before the division by
        # sigma ≈ 5, the variances by ~33u relative; so <= ~3e-14 on outputs of magnitude <= ~5
        torch.testing.assert_close(got, want, rtol=0, atol=1e-13)


def test_l2_norm_is_vector_norm_with_a_zero_gradient_at_zero():
    torch.manual_seed(0)
    x = torch.randn(2, 9, 4, dtype=torch.float64)
    x[0, :, 1] = 0  # a zero vector: vector_norm's subgradient there is 0, sqrt's would be inf * 0 = NaN
    x.requires_grad_(True)
    norm = l2_norm(x)
    # each side: 9 squares and 8 additions (<= 17u relative in the sum), halved by the root, plus its rounding:
    # <= 9.5u = 1.05e-15 (u = 2^-53), so the two differ by <= 2.1e-15 whatever order a CPU sums in.
    # The zero vector's norm is sqrt(smallest normal) = 1.5e-154, far below the machine epsilon added to it.
    torch.testing.assert_close(norm, torch.linalg.vector_norm(x, dim=1, keepdim=True), rtol=2.2e-15, atol=2e-154)
    (norm.sum() * 2).backward()
    assert torch.equal(x.grad[0, :, 1], torch.zeros(9, dtype=torch.float64))
    others = torch.ones(2, 4, dtype=torch.bool)
    others[0, 1] = False
    want = (2 * x / torch.linalg.vector_norm(x, dim=1, keepdim=True)).detach()  # d|x|/dx = x / |x|
    torch.testing.assert_close(x.grad.permute(0, 2, 1)[others], want.permute(0, 2, 1)[others], rtol=1e-14, atol=0)


def test_spade_resizes_conditioning_with_nearest():
    torch.manual_seed(0)
    spade = SPADE(norm_nc=2, cond_nc=1, hidden=1)
    cond = torch.arange(16.0).view(1, 1, 4, 4)
    seen = {}
    spade.mlp_shared.register_forward_hook(lambda m, i, o: seen.setdefault("cond", i[0]))
    spade(torch.randn(1, 2, 2, 2), cond)
    # nearest to 2x2 picks the top-left sample of each 2x2 block: 0, 2, 8, 10
    assert seen["cond"].flatten().tolist() == [0.0, 2.0, 8.0, 10.0]


def test_spade_with_constant_modulation_scales_and_shifts_the_positional_norm():
    """gamma and beta convolutions with zero weights: out = PONO(x) * (1 + b_gamma) + b_beta, per channel."""
    torch.manual_seed(0)
    spade = SPADE(norm_nc=3, cond_nc=2, hidden=4)
    with torch.no_grad():
        for conv, bias in ((spade.mlp_gamma, [0.5, -1.0, 2.0]), (spade.mlp_beta, [0.1, 0.2, -0.3])):
            conv.weight.zero_()
            conv.bias.copy_(torch.tensor(bias))
    x = torch.randn(2, 3, 4, 4)
    out = spade(x, torch.randn(2, 2, 8, 8))
    want = PositionalNorm2d()(x) * torch.tensor([1.5, 0.0, 3.0]).view(1, 3, 1, 1) + torch.tensor(
        [0.1, 0.2, -0.3]).view(1, 3, 1, 1)
    torch.testing.assert_close(out, want, rtol=0, atol=1e-6)


@pytest.mark.parametrize("onehot_start", [None, 0, 3])
def test_spade_is_the_same_in_both_modes(onehot_start):
    """Dense conditioning, and the class-id lookup for a one-hot conditioning from channel 0 or 3 on; the
    conditioning at twice the features' size (resized inside)."""
    torch.manual_seed(0)
    k = onehot_start or 0
    spade = SPADE(norm_nc=6, cond_nc=k + 5, hidden=4, onehot_start=onehot_start)
    ids = torch.randint(0, 5, (2, 16, 16))
    cond = torch.cat([torch.randn(2, k, 16, 16), F.one_hot(ids, 5).permute(0, 3, 1, 2).float()], 1)
    x = torch.randn(2, 6, 8, 8)
    if onehot_start is None:
        assert_same_in_both_modes(spade, x, cond)
    else:
        assert_same_in_both_modes(spade, x, cond, ids)


@pytest.mark.parametrize("padding", ["reflect", "zeros"])
def test_onehot_lookup_equals_convolving_the_one_hot_map(padding):
    torch.manual_seed(0)
    ids = torch.randint(0, 7, (2, 9, 11))
    weight = torch.randn(5, 7, 3, 3, requires_grad=True)
    onehot = F.one_hot(ids, 7).permute(0, 3, 1, 2).float()
    want = F.conv2d(F.pad(onehot, (1, 1, 1, 1), mode="reflect"), weight) if padding == "reflect" else (
        F.conv2d(onehot, weight, padding=1))
    got = onehot_conv3x3(ids, weight, padding)
    assert torch.allclose(got, want, atol=1e-5)
    (g1,) = torch.autograd.grad(got.square().sum(), weight)
    (g2,) = torch.autograd.grad(want.square().sum(), weight)
    assert torch.allclose(g1, g2, atol=1e-4)


def test_zero_padded_lookup_reads_nothing_outside_the_map():
    """A 1x1 map of class c, zero-padded: only the centre tap lands inside, so the output is w[:, c, 1, 1]."""
    weight = torch.arange(2 * 3 * 9, dtype=torch.float32).view(2, 3, 3, 3)
    got = onehot_conv3x3(torch.tensor([[[2]]]), weight, "zeros")
    assert torch.equal(got.flatten(), weight[:, 2, 1, 1])
    with pytest.raises(ValueError, match="padding must be 'reflect' or 'zeros', got 'circular'"):
        onehot_conv3x3(torch.tensor([[[2]]]), weight, "circular")
