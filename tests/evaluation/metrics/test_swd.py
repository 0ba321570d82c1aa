"""SWD (Progressive GAN protocol): pyramid, patches, distance, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from cocosnet.evaluation.metrics import swd as S


def test_pyramid_filters_match_scipy_mirror_convolution():
    x = torch.rand(2, 3, 20, 18, dtype=torch.float64)
    kernel = S.GAUSSIAN_5x5.double().numpy()[None, None]
    down = ndimage.convolve(x.numpy(), kernel, mode="mirror")[:, :, ::2, ::2]
    assert np.allclose(S.pyr_down(x).numpy(), down, atol=1e-12)
    up = np.zeros((2, 3, 40, 36))
    up[:, :, ::2, ::2] = x.numpy()
    assert np.allclose(S.pyr_up(x).numpy(), ndimage.convolve(up, kernel * 4, mode="mirror"), atol=1e-12)
    # Hand check of the kernel: a 5-tap binomial [1 4 6 4 1]/16 in each direction, sum 1.
    assert S.GAUSSIAN_5x5[2, 2].item() == 36 / 256 and S.GAUSSIAN_5x5.sum().item() == pytest.approx(1.0)


def test_pyramid_levels_and_reconstruction():
    assert S.pyramid_sizes(256, 256) == [(256, 256), (128, 128), (64, 64), (32, 32), (16, 16)]
    assert S.pyramid_sizes(64, 64) == [(64, 64), (32, 32), (16, 16)]
    assert S.pyramid_sizes(48, 48) == [(48, 48), (24, 24)]
    with pytest.raises(ValueError, match="at least 16x16"):
        S.pyramid_sizes(8, 64)
    x = torch.rand(1, 3, 32, 32)
    levels = S.laplacian_pyramid(x, 2)
    assert [tuple(lv.shape[-2:]) for lv in levels] == [(32, 32), (16, 16)]
    # Collapsing the pyramid gives the image back exactly (band = image - up(down(image))).
    assert torch.allclose(levels[0] + S.pyr_up(levels[1]), x, atol=1e-6)


def test_patches_are_crops_fully_inside_the_image():
    b, h, w = 2, 16, 20
    # Encode (image, y, x) into the pixel value so each patch tells where it came from.
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    img = (
        torch.stack([(bi * 10000 + yy * 100 + xx).float() for bi in range(b)]).unsqueeze(1).repeat(1, 3, 1, 1)
    )
    patches = S.sample_patches(img, 50, 7, torch.Generator().manual_seed(3))
    assert patches.shape == (100, 3, 7, 7)
    centre = patches[:, 0, 3, 3]
    ys, xs = (centre % 10000) // 100, centre % 100
    assert ys.min() >= 3 and ys.max() <= h - 4 and xs.min() >= 3 and xs.max() <= w - 4
    assert (centre[:50] < 10000).all() and (centre[50:] >= 10000).all()  # first 50 from image 0
    # A patch is the 7x7 crop around its centre.
    expected = centre[:, None, None] + (torch.arange(7) - 3)[:, None] * 100 + (torch.arange(7) - 3)[None, :]
    assert torch.equal(patches[:, 0], expected)


def test_sliced_wasserstein_1d_hand_case():
    # One-dimensional descriptors: every unit direction is +-1, so SWD is W1 of the sorted samples = 1.
    a = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    b = torch.tensor([[4.0], [1.0], [3.0], [2.0]])
    assert S.sliced_wasserstein(a, b, 2, 8, torch.Generator().manual_seed(0)) == pytest.approx(1.0)


def _images(seed: int, n: int = 8, size: int = 32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=g) * 2 - 1


def test_swd_zero_for_identical_sets_and_grows_with_distortion():
    a = _images(0)
    same = S.compute_swd(a, a.clone())
    assert set(same) == {"swd_32", "swd_16", "swd_avg"}
    assert all(v == 0.0 for v in same.values())
    noise = torch.randn(a.shape, generator=torch.Generator().manual_seed(1))
    values = [S.compute_swd(a, a + s * noise)["swd_avg"] for s in (0.05, 0.3, 1.0)]
    assert 0 < values[0] < values[1] < values[2], values
    # Per-channel standardisation: a global affine change of a channel over the whole set is invisible.
    scaled = a * torch.tensor([0.5, 2.0, 1.0]).view(1, 3, 1, 1) + 0.3
    assert S.compute_swd(a, scaled)["swd_avg"] == pytest.approx(0.0, abs=1e-3)


def test_swd_deterministic_under_seed_and_accumulates_batches():
    a, b = _images(0), _images(1)
    first, again = S.compute_swd(a, b, seed=5), S.compute_swd(a, b, seed=5)
    assert first == again
    assert S.compute_swd(a, b, seed=6)["swd_avg"] != first["swd_avg"]
    metric = S.SlicedWassersteinDistance(seed=5)
    for part in (a[:3], a[3:]):
        metric.update(part, real=True)
    for part in (b[:5], b[5:]):
        metric.update(part, real=False)
    # Same positions stream per set, so splitting into batches changes nothing.
    assert metric.compute() == pytest.approx(first)
    with pytest.raises(ValueError, match="one size"):
        metric.update(_images(2, size=16), real=True)


def test_swd_unequal_set_sizes_use_a_subset():
    result = S.compute_swd(_images(0, n=8), _images(1, n=5))
    assert np.isfinite(result["swd_avg"]) and result["swd_avg"] > 0
