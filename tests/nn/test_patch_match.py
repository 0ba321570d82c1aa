"""The warp's patch cosines summed from 1x1 products (cocosnet.nn.patch_match) against the unfolded match vectors."""

import pytest
import torch
import torch.nn.functional as F

from cocosnet.nn.normalization import EPS
from cocosnet.nn.patch_match import patch_cosine_error_bound, patch_cosines, patch_moments, patch_softmax_warp
from tests.helpers.grad_modes import assert_same_in_both_modes


def _unfolded(feat: torch.Tensor, kernel: int) -> torch.Tensor:
    """The official match vectors: unfolded (zero padding), centred over their own values, normalised: [B,N,D]."""
    v = F.unfold(feat, kernel, padding=kernel // 2)
    v = v - v.mean(1, keepdim=True)
    return (v / (v.norm(dim=1, keepdim=True) + EPS)).transpose(1, 2)


def _features(seed: int, shape=(2, 8, 9, 7)) -> tuple[torch.Tensor, torch.Tensor]:
    """theta and phi with offsets of their own per sample (-3, 2.5; 0.5, -1) and a smooth ramp across the map, so
    the patch means differ from the global ones as a trained network's do."""
    g = torch.Generator().manual_seed(seed)
    b, _, h, w = shape
    ramp = torch.linspace(-1, 1, h).view(1, 1, h, 1) + torch.linspace(0, 0.5, w).view(1, 1, 1, w)
    theta = torch.randn(shape, generator=g) + torch.tensor([-3.0, 0.5])[:b].view(b, 1, 1, 1) + ramp
    phi = torch.randn(shape, generator=g) + torch.tensor([2.5, -1.0])[:b].view(b, 1, 1, 1) - ramp
    return theta, phi


@pytest.mark.parametrize("kernel", [1, 3, 5])
def test_patch_moments_are_the_unfolded_vectors_mean_and_centred_norm(kernel):
    """In float64 both sides round at ~(C + k² + 4)·u relative (sums of C·k² non-negative terms, the norm a root)."""
    theta, _ = _features(0)
    theta = theta.double()
    v = F.unfold(theta, kernel, padding=kernel // 2)
    mean = v.mean(1)
    norm = (v - mean.unsqueeze(1)).norm(dim=1)
    got_mean, got_norm = patch_moments(theta, kernel)
    u = torch.finfo(torch.float64).eps / 2
    rtol = 2 * (theta.shape[1] * kernel**2 + 4) * u
    torch.testing.assert_close(got_norm, norm, rtol=rtol, atol=0)
    # a mean errs by its sums' rounding relative to the mean of the absolute values, not to itself
    scale = F.unfold(theta.abs(), kernel, padding=kernel // 2).mean(1)
    assert ((got_mean - mean).abs() <= rtol * scale).all()


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize(("kernel", "chunk"), [(3, 4096), (3, 20), (5, 15), (1, 30)])
def test_patch_cosines_are_the_unfolded_vectors_cosines_within_the_bound(kernel, chunk, batch):
    """float32 against the float64 cosines of the unfolded vectors, within `patch_cosine_error_bound`; chunk 20 and
    15 make blocks of 2 query rows (and a last shorter one), so the block edges are covered. A batch of one takes
    its products by a 1x1 convolution, a batch of two by one batched product: the bound holds for any order of
    the sums."""
    theta, phi = (t[:batch] for t in _features(1))
    with torch.no_grad():
        got = patch_cosines(theta, phi, kernel, chunk)
    exact = torch.bmm(_unfolded(theta.double(), kernel), _unfolded(phi.double(), kernel).transpose(1, 2))
    bound = patch_cosine_error_bound(theta, phi, kernel)
    assert got.shape == exact.shape == (batch, 63, 63)
    error = (got.double() - exact).abs()
    assert (error <= bound).all(), f"worst error / bound: {(error / bound).max():.3g}"
    # not vacuous: 2e-4 in a cosine is 0.02 in a logit at a temperature of 0.01 (the errors are ~1e-6 here; the
    # bound is largest for k=1, whose 8-value vectors have small centred norms against their offset)
    assert bound.max() < 2e-4


def test_the_bound_holds_for_features_far_from_their_global_mean():
    """One sample's features sit at 40 ± 1 on the left half and -40 ± 1 on the right: patch means far from the
    global mean (~0); the bound widens with √D·|a| / norm and still holds."""
    theta, phi = _features(2)
    theta[0, :, :, :4] += 40
    theta[0, :, :, 4:] -= 40
    with torch.no_grad():
        got = patch_cosines(theta, phi, 3, 30)
    exact = torch.bmm(_unfolded(theta.double(), 3), _unfolded(phi.double(), 3).transpose(1, 2))
    assert ((got.double() - exact).abs() <= patch_cosine_error_bound(theta, phi, 3)).all()


def test_patch_warp_equals_the_softmax_warp_of_the_unfolded_vectors():
    """softmax(cos · 100) · v in float32 against float64. A logit error δ moves the softmax's weights by at most
    2·max|δ| in sum (first order), and the M-term weighted sum rounds by M·u·max|v|: the bound below."""
    theta, phi = _features(3)
    scale = 100.0
    g = torch.Generator().manual_seed(4)
    values = torch.rand(2, 63, 5, generator=g) * 2 - 1
    with torch.no_grad():
        got = patch_softmax_warp(theta, phi, values, scale, 3, chunk=20)
    q, k = _unfolded(theta.double(), 3), _unfolded(phi.double(), 3)
    want = torch.softmax(torch.bmm(q, k.transpose(1, 2)) * scale, -1) @ values.double()
    u = torch.finfo(torch.float32).eps / 2
    logit_error = scale * patch_cosine_error_bound(theta, phi, 3).amax(-1, keepdim=True)  # [B, N, 1]
    bound = (2 * logit_error + (63 + 8) * u) * values.abs().max()
    assert ((got.double() - want).abs() <= bound).all()


def test_patch_warp_is_the_same_in_both_grad_modes_and_its_gradient_is_the_unfolded_ones():
    """Inference reuses two buffers and works in place; with a graph recorded it must not, and give the same bits.
    The gradient flows to theta and phi as through the unfolded vectors (float64: both sides round at ~1e-16 times
    the 36-term sums and the scale of 10, far inside rtol 1e-10)."""
    theta, phi = _features(5, (1, 4, 5, 6))
    values = torch.rand(1, 30, 3, generator=torch.Generator().manual_seed(6))
    assert_same_in_both_modes(lambda t, p: patch_softmax_warp(t, p, values, 10.0, 3, chunk=12), theta, phi)
    leaves = [x.double().requires_grad_() for x in (theta, phi)]
    patch_softmax_warp(*leaves, values.double(), 10.0, 3, chunk=12).square().sum().backward()
    ref = [x.double().requires_grad_() for x in (theta, phi)]
    q, k = _unfolded(ref[0], 3), _unfolded(ref[1], 3)
    (torch.softmax(q @ k.transpose(1, 2) * 10.0, -1) @ values.double()).square().sum().backward()
    for got, want in zip(leaves, ref, strict=True):
        torch.testing.assert_close(got.grad, want.grad, rtol=1e-10, atol=1e-12)
