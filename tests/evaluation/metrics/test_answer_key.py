"""Answer-key metrics: CIELAB, per-class ΔE, per-family accumulation."""

from __future__ import annotations

import math

import pytest
import torch

from cocosnet.evaluation.metrics.answer_key import (
    AnswerKeyMetrics,
    per_class_delta_e,
    srgb_to_lab,
)

# Reference CIELAB (D65) values of sRGB primaries, from the standard formulas.
WHITE, BLACK = (100.0, 0.0, 0.0), (0.0, 0.0, 0.0)
RED = (53.2408, 80.0925, 67.2032)
BLUE = (32.2970, 79.1875, -107.8602)
GREY_50 = (53.3890, 0.0, 0.0)  # sRGB 0.5 -> linear 0.2140 -> L* 53.389


def _lab(rgb: tuple[float, float, float]) -> list[float]:
    return srgb_to_lab(torch.tensor(rgb).view(3, 1, 1)).flatten().tolist()


@pytest.mark.parametrize(
    ("rgb", "lab"),
    [((1, 1, 1), WHITE), ((0, 0, 0), BLACK), ((1, 0, 0), RED), ((0, 0, 1), BLUE), ((0.5, 0.5, 0.5), GREY_50)],
)
def test_srgb_to_lab_known_values(rgb, lab):
    assert _lab(rgb) == pytest.approx(lab, abs=2e-3)


def _paint(label: torch.Tensor, colours: dict[int, tuple[float, float, float]]) -> torch.Tensor:
    """Image in [-1, 1] with each class painted in an sRGB [0, 1] colour."""
    img = torch.zeros(label.shape[0], 3, *label.shape[-2:])
    for k, c in colours.items():
        img += (label == k).float() * torch.tensor(c).view(1, 3, 1, 1)
    return img * 2 - 1


def test_per_class_delta_e_hand_computed():
    label = torch.zeros(1, 1, 4, 4, dtype=torch.long)
    label[..., 2:, :] = 2  # classes 0 and 2; class 1 absent
    output = _paint(label, {0: (1, 1, 1), 2: (0, 0, 0)})
    oracle = _paint(label, {0: (1, 0, 0), 2: (0, 0, 0)})
    errors, present = per_class_delta_e(output, oracle, label)
    assert present.tolist() == [[True, False, True]]
    white_vs_red = math.dist(WHITE, RED)  # 114.53
    assert errors[0, 0].item() == pytest.approx(white_vs_red, abs=5e-3)
    assert errors[0, 2].item() == pytest.approx(0.0, abs=1e-9)
    # Mean over a class's pixels is taken in Lab: half white, half black -> L* 50, not the Lab of grey.
    half = _paint(torch.tensor([[0, 1], [0, 1]]).view(1, 1, 2, 2), {0: (1, 1, 1), 1: (0, 0, 0)})
    err, _ = per_class_delta_e(half, -torch.ones_like(half), torch.zeros(1, 1, 2, 2, dtype=torch.long))
    assert err[0, 0].item() == pytest.approx(50.0, abs=1e-4)


def test_answer_key_metrics_sets_and_families():
    g = torch.Generator().manual_seed(0)
    layout = torch.zeros(4, 1, 32, 32, dtype=torch.long)
    layout[:, :, 16:] = 1
    layout[2:, :, :, :8] = 2
    oracle = _paint(layout, {0: (0.2, 0.4, 0.9), 1: (0.3, 0.6, 0.2), 2: (0.5, 0.5, 0.5)})
    oracle = (oracle + 0.05 * torch.randn(oracle.shape, generator=g)).clamp(-1, 1)
    shifted = (oracle + torch.tensor([0.2, 0.0, 0.0]).view(1, 3, 1, 1)).clamp(-1, 1)
    metrics = AnswerKeyMetrics(swd_seed=0)
    families = ["sunny", "sunny", "dusk", "dusk"]
    for lo, hi in ((0, 2), (2, 4)):  # two batches
        metrics.update(
            {"output": oracle[lo:hi].clone(), "shifted": shifted[lo:hi]},
            oracle[lo:hi],
            layout[lo:hi],
            families[lo:hi],
        )
    result = metrics.compute()
    assert set(result) == {
        "output",
        "output@sunny",
        "output@dusk",
        "shifted",
        "shifted@sunny",
        "shifted@dusk",
    }
    perfect = result["output"]
    assert perfect["delta_e"] == 0.0 and perfect["swd_avg"] == 0.0 and perfect["samples"] == 4
    errors, present = per_class_delta_e(shifted, oracle, layout)
    per_sample = (errors * present).sum(1) / present.sum(1)
    assert result["shifted"]["delta_e"] == pytest.approx(per_sample.mean().item())
    assert result["shifted@dusk"]["delta_e"] == pytest.approx(per_sample[2:].mean().item())
    assert result["shifted@dusk"]["samples"] == 2
    assert result["shifted"]["delta_e_class_2"] == pytest.approx(errors[2:, 2].mean().item())
    assert "delta_e_class_2" not in result["shifted@sunny"]
    assert result["shifted"]["swd_avg"] > 0
    with pytest.raises(ValueError, match="family names"):
        metrics.update(oracle, oracle, layout, ["a"])
