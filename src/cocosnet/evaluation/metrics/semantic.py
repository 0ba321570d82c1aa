"""Semantic consistency and style relevance (CoCosNet paper, Sec. 4.1), from VGG19 features.

Both compare *region-wise mean features*: for every label k of a label map, the mean VGG feature vector over
the pixels labelled k (the label map is resized to the feature resolution with nearest neighbour, so a region
counts at a layer only where it still covers feature pixels there). Two such vectors are compared by cosine.

* Semantic consistency (output vs ground truth, both laid out by the ground-truth label map): relu3_2,
  relu4_2, relu5_2; per layer the area-weighted mean over labels of the cosine, then the mean of the layers.
* Style relevance (output vs exemplar): relu1_2 (``color``) and relu2_2 (``texture``); labels present in both
  the output's label map (the input layout) and the exemplar's label map, excluding ``ignore_index`` (0);
  area-weighted by the output's region size. An image with no shared label scores NaN (use ``nanmean``).

Values are per image, shape (B,); higher is better, 1 is the maximum.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from cocosnet.vgg import VGG19Features, layers_needed

SEMANTIC_LAYERS: tuple[str, ...] = ("r32", "r42", "r52")
STYLE_LAYERS: dict[str, str] = {"color": "r12", "texture": "r22"}


def _check_label(label: Tensor, images: Tensor) -> None:
    if label.dim() != 4 or label.shape[1] != 1 or label.shape[0] != images.shape[0]:
        raise ValueError(
            f"label maps must be (B, 1, H, W) with B={images.shape[0]}; got {tuple(label.shape)}"
        )
    if label.dtype.is_floating_point:
        raise ValueError("label maps must hold integer class ids (torch.long)")


def region_means(feat: Tensor, label: Tensor, num_classes: int) -> tuple[Tensor, Tensor]:
    """Per-label mean features and areas at the feature resolution.

    Returns (means (B, K, C), areas (B, K)) with K = ``num_classes``; labels absent at that resolution get
    area 0 and a zero mean.
    """
    b, c, h, w = feat.shape
    lab = F.interpolate(label.float(), size=(h, w), mode="nearest").long().view(b, h * w)
    onehot = F.one_hot(lab, num_classes).to(feat.dtype)  # (B, HW, K)
    areas = onehot.sum(dim=1)  # (B, K)
    sums = torch.einsum("bch,bhk->bkc", feat.reshape(b, c, h * w), onehot)
    return sums / areas.clamp_min(1).unsqueeze(-1), areas


def _weighted_cosine(a: Tensor, b: Tensor, weights: Tensor) -> Tensor:
    """Area-weighted mean over labels of cos(a_k, b_k); NaN where all weights are 0. Shapes (B,K,C),(B,K)."""
    cos = F.cosine_similarity(a, b, dim=-1, eps=1e-8)
    total = weights.sum(dim=1)
    return (cos * weights).sum(dim=1) / total.where(total > 0, torch.full_like(total, float("nan")))


@torch.no_grad()
def semantic_consistency(
    output: Tensor,
    ground_truth: Tensor,
    label: Tensor,
    vgg: VGG19Features,
    layers: tuple[str, ...] = SEMANTIC_LAYERS,
    ignore_index: int | None = None,
) -> dict[str, Tensor]:
    """Region-wise cosine of high-level VGG features, output vs ground truth, both over ``label`` (the
    ground-truth layout). Returns ``{layer: (B,), "mean": (B,)}``."""
    _check_label(label, output)
    num_classes = int(label.max()) + 1
    feats_out = vgg(output, layers)
    feats_gt = vgg(ground_truth, layers)
    result: dict[str, Tensor] = {}
    for name in layers:
        m_out, area = region_means(feats_out[name], label, num_classes)
        m_gt, _ = region_means(feats_gt[name], label, num_classes)
        if ignore_index is not None and ignore_index < num_classes:
            area[:, ignore_index] = 0
        result[name] = _weighted_cosine(m_out, m_gt, area)
    result["mean"] = torch.stack([result[name] for name in layers]).mean(dim=0)
    return result


@torch.no_grad()
def style_relevance(
    output: Tensor,
    output_label: Tensor,
    exemplar: Tensor,
    exemplar_label: Tensor,
    vgg: VGG19Features,
    layers: dict[str, str] = STYLE_LAYERS,
    ignore_index: int | None = 0,
) -> dict[str, Tensor]:
    """Region-wise cosine of low-level VGG features, output vs exemplar, over labels in both label maps
    (excluding ``ignore_index``). Returns ``{"color": (B,), "texture": (B,)}`` (keys of ``layers``)."""
    _check_label(output_label, output)
    _check_label(exemplar_label, exemplar)
    num_classes = int(max(output_label.max(), exemplar_label.max())) + 1
    names = layers_needed(layers.values())
    feats_out = vgg(output, names)
    feats_ex = vgg(exemplar, names)
    result: dict[str, Tensor] = {}
    for key, name in layers.items():
        m_out, area_out = region_means(feats_out[name], output_label, num_classes)
        m_ex, area_ex = region_means(feats_ex[name], exemplar_label, num_classes)
        weights = area_out * (area_ex > 0)
        if ignore_index is not None and ignore_index < num_classes:
            weights[:, ignore_index] = 0
        result[key] = _weighted_cosine(m_out, m_ex, weights)
    return result
