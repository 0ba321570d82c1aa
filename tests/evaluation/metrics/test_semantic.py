"""Semantic consistency and style relevance: hand-computed toys with a stub feature network, then VGG."""

from __future__ import annotations

import math

import pytest
import torch

from cocosnet.evaluation.metrics.semantic import region_means, semantic_consistency, style_relevance
from cocosnet.vgg import load_vgg19

from ...conftest import missing


class IdentityFeatures:
    """Stands in for VGG19Features: every layer's 'feature' is the image itself."""

    def __call__(self, x, layers):
        return {name: x for name in layers}


def _paint(label: torch.Tensor, colours: dict[int, tuple[float, float, float]]) -> torch.Tensor:
    img = torch.zeros(label.shape[0], 3, *label.shape[-2:])
    for k, c in colours.items():
        img += (label == k).float() * torch.tensor(c).view(1, 3, 1, 1)
    return img


def _two_regions() -> torch.Tensor:
    label = torch.zeros(1, 1, 4, 4, dtype=torch.long)
    label[..., 3, :] = 1  # region 0: 12 pixels, region 1: 4 pixels
    return label


def test_region_means_hand_computed():
    label = _two_regions()
    feat = torch.arange(16.0).view(1, 1, 4, 4)
    means, areas = region_means(feat, label, 3)
    assert areas.tolist() == [[12.0, 4.0, 0.0]]
    assert means[0, :, 0].tolist() == [sum(range(12)) / 12, sum(range(12, 16)) / 4, 0.0]
    # Nearest downsampling of the label map to a coarser feature map keeps rows 0 and 2: the one-row region 1
    # covers no feature pixel at 2x2 and drops out there; a two-row region survives.
    _, coarse_areas = region_means(torch.ones(1, 2, 2, 2), label, 2)
    assert coarse_areas.tolist() == [[4.0, 0.0]]
    half = torch.zeros(1, 1, 4, 4, dtype=torch.long)
    half[..., 2:, :] = 1
    coarse, coarse_areas = region_means(torch.arange(4.0).view(1, 1, 2, 2), half, 2)
    assert coarse_areas.tolist() == [[2.0, 2.0]] and coarse[0, :, 0].tolist() == [0.5, 2.5]


def test_semantic_consistency_two_region_toy():
    label = _two_regions()
    output = _paint(label, {0: (1, 0, 0), 1: (0, 0, 1)})
    truth = _paint(label, {0: (1, 1, 0), 1: (0, 0, 2)})
    result = semantic_consistency(output, truth, label, IdentityFeatures(), layers=("r32", "r42"))
    # Region 0: cos((1,0,0), (1,1,0)) = 1/sqrt(2), weight 12; region 1: cos = 1, weight 4.
    expected = (12 / math.sqrt(2) + 4 * 1.0) / 16
    assert result["r32"].item() == pytest.approx(expected, abs=1e-6)
    assert result["mean"].item() == pytest.approx(expected, abs=1e-6)
    ignored = semantic_consistency(output, truth, label, IdentityFeatures(), layers=("r32",), ignore_index=0)
    assert ignored["r32"].item() == pytest.approx(1.0)


def test_style_relevance_uses_only_shared_labels_except_zero():
    out_label = torch.tensor([[0, 1], [2, 2]]).view(1, 1, 2, 2)
    ex_label = torch.tensor([[0, 1], [3, 3]]).view(1, 1, 2, 2)
    output = _paint(out_label, {0: (1, 0, 0), 1: (1, 1, 0), 2: (0, 1, 0)})
    exemplar = _paint(ex_label, {0: (0, 0, 1), 1: (1, 0, 0), 3: (0, 1, 0)})
    result = style_relevance(output, out_label, exemplar, ex_label, IdentityFeatures())
    # Only label 1 is in both maps (0 is excluded): cos((1,1,0), (1,0,0)) = 1/sqrt(2).
    assert set(result) == {"color", "texture"}
    assert result["color"].item() == pytest.approx(1 / math.sqrt(2), abs=1e-6)
    with_zero = style_relevance(output, out_label, exemplar, ex_label, IdentityFeatures(), ignore_index=None)
    assert with_zero["color"].item() == pytest.approx((0.0 + 1 / math.sqrt(2)) / 2, abs=1e-6)
    none_shared = style_relevance(
        output, out_label, exemplar, torch.full_like(ex_label, 3), IdentityFeatures()
    )
    assert math.isnan(none_shared["color"].item())
    with pytest.raises(ValueError, match="integer class ids"):
        style_relevance(output, out_label.float(), exemplar, ex_label, IdentityFeatures())


def test_with_real_vgg_identical_is_one_and_ranking_is_sensible():
    try:
        vgg = load_vgg19()
    except FileNotFoundError as exc:
        missing(str(exc))
    g = torch.Generator().manual_seed(0)
    label = torch.zeros(2, 1, 32, 32, dtype=torch.long)
    label[:, :, 16:] = 1
    truth = torch.rand(2, 3, 32, 32, generator=g) * 2 - 1
    same = semantic_consistency(truth, truth, label, vgg)
    assert set(same) == {"r32", "r42", "r52", "mean"} and same["mean"].shape == (2,)
    assert torch.allclose(same["mean"], torch.ones(2), atol=1e-5)
    close = semantic_consistency(truth + 0.1 * torch.randn(truth.shape, generator=g), truth, label, vgg)
    far = semantic_consistency(torch.rand(2, 3, 32, 32, generator=g) * 2 - 1, truth, label, vgg)
    assert (far["mean"] < close["mean"]).all() and (close["mean"] < 1).all()
    style = style_relevance(truth, label, truth.flip(-1), label, vgg)
    assert torch.allclose(style["color"], torch.ones(2), atol=1e-3)  # mirrored: same region statistics
