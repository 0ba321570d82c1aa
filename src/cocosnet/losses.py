"""The CoCosNet training losses as small pure functions (paper §3.3, official `pix2pix_model.py`).

Every function takes tensors and returns the *unweighted* term (the per-preset weights live in `LossConfig` and are
applied by the trainer), so each one can be checked against a value computed by hand. They compute in float32
whatever the autocast dtype of their inputs, because the contextual loss exponentiates distances / 0.1 and the
warped-label loss takes logarithms of probabilities.

Pseudo-exemplar pairs: the sample weights ``self_ref / (Σ_batch self_ref + 1e-5)`` restrict the feature-matching and
warp-self terms to the samples whose exemplar is the ground truth (re-cropped) itself, as the official code does.
Note that, like the official `weighted_l1_loss`, the weighted mean also divides by the batch size.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from cocosnet.nn import feature_normalize

# relu1_2 .. relu5_2 weights of the pseudo-pair feature matching loss (official `fm`).
FEAT_MATCH_LAYERS: tuple[str, ...] = ("r12", "r22", "r32", "r42", "r52")
FEAT_MATCH_WEIGHTS: tuple[float, ...] = (1.0 / 32, 1.0 / 16, 1.0 / 8, 1.0 / 4, 1.0)
# (layer, weight, average-pool factor) of the contextual loss: 8·CX(r52) + 4·CX(r42) + 2·CX(avgpool2(r32)).
CONTEXTUAL_LAYERS: tuple[tuple[str, float, int], ...] = (("r52", 8.0, 1), ("r42", 4.0, 1), ("r32", 2.0, 2))
CONTEXTUAL_BANDWIDTH = 0.1


def _f32(x: Tensor) -> Tensor:
    """Half-precision (autocast) tensors up to float32; float32 / float64 unchanged."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def pseudo_pair_weights(self_ref: Tensor, total: Tensor | float | None = None, eps: float = 1e-5) -> Tensor:
    """Per-sample weights ``self_ref / (Σ self_ref + eps)`` selecting pseudo-exemplar pairs, shape [B].

    ``total``: Σ self_ref over the *global* batch when the batch is split over processes (the trainer all-reduces
    it, so that N processes give the same loss as one process on the combined batch); default: this batch's sum.
    """
    s = _f32(self_ref).reshape(self_ref.shape[0], -1)[:, 0]
    if total is None:
        total = s.sum()
    return s / (total + eps)


def feature_matching_loss(
    fake_feats: Sequence[Tensor],
    real_feats: Sequence[Tensor],
    sample_weights: Tensor,
    layer_weights: Sequence[float] = FEAT_MATCH_WEIGHTS,
) -> Tensor:
    """L_feat, the pseudo-exemplar VGG feature matching loss (paper eq. 5, official ``fm``).

    ``Σ_l w_l · mean(sample_weight · |φ_l(x̂) − φ_l(x_B)|)`` over relu1_2..relu5_2 with w = 1/32, 1/16, 1/8, 1/4, 1;
    the real features are treated as constants.
    """
    if len(fake_feats) != len(real_feats) or len(fake_feats) != len(layer_weights):
        raise ValueError(
            f"need {len(layer_weights)} feature maps on each side, got {len(fake_feats)}/{len(real_feats)}"
        )
    sw = sample_weights.reshape(-1, 1, 1, 1)
    total = fake_feats[0].new_zeros((), dtype=torch.float32)
    for w, f, r in zip(layer_weights, fake_feats, real_feats, strict=True):
        total = total + w * torch.mean(sw * (_f32(f) - _f32(r).detach()).abs())
    return total


def perceptual_loss(fake_feat: Tensor, real_feat: Tensor) -> Tensor:
    """L_perc, the perceptual loss: MSE between VGG features of the output and the ground truth (relu5_2 for
    ADE20k, relu4_2 otherwise; official ``perc``)."""
    return torch.mean((_f32(fake_feat) - _f32(real_feat).detach()) ** 2)


def contextual_loss(x: Tensor, y: Tensor, bandwidth: float = CONTEXTUAL_BANDWIDTH) -> Tensor:
    """CX, the contextual loss of one feature layer, per sample: shape [B] (official ``ContextualLoss_forward``).

    Both feature maps [B,C,H,W] are centred by the exemplar's per-position channel mean (PONO), L2-normalised per
    position; d_ij = 1 − cos(x_i, y_j); d̃_ij = d_ij / (min_k d_ik + 1e-3); w_ij = exp((1 − d̃_ij) / h);
    A_ij = w_ij / Σ_k w_ik; CX = mean_i max_j A_ij; loss = −log CX. ``y`` (the exemplar side) is a constant.
    """
    x, y = _f32(x), _f32(y).detach()
    b, c = x.shape[:2]
    mu = y.mean(dim=1, keepdim=True)
    xn = feature_normalize(x - mu).reshape(b, c, -1)
    yn = feature_normalize(y - mu).reshape(b, c, -1)
    d = 1 - torch.matmul(xn.transpose(1, 2), yn)  # [B, Nx, Ny]
    d_tilde = d / (d.min(dim=-1, keepdim=True).values + 1e-3)
    # softmax over j of (1 - d̃)/h is exactly w / Σ w, computed without overflow
    a = torch.softmax((1 - d_tilde) / bandwidth, dim=-1)
    cx = a.max(dim=-1).values.mean(dim=1)
    return -torch.log(cx)


def contextual_vgg_loss(fake_feats: dict[str, Tensor], exemplar_feats: dict[str, Tensor]) -> Tensor:
    """L_context (paper eq. 4, official ``contextual``): 8·CX(relu5_2) + 4·CX(relu4_2) + 2·CX(avgpool2(relu3_2)),
    each averaged over the batch, between the output and the exemplar."""
    total = None
    for layer, weight, pool in CONTEXTUAL_LAYERS:
        x, y = fake_feats[layer], exemplar_feats[layer]
        if pool > 1:
            x, y = F.avg_pool2d(_f32(x), pool), F.avg_pool2d(_f32(y), pool)
        term = weight * contextual_loss(x, y).mean()
        total = term if total is None else total + term
    assert total is not None
    return total


def split_discriminator_output(pred: list[list[Tensor]]) -> tuple[list[list[Tensor]], list[list[Tensor]]]:
    """D ran on cat(fake, real) along the batch: split every layer output of every scale into (fake, real)."""
    fake = [[t[: t.shape[0] // 2] for t in scale] for scale in pred]
    real = [[t[t.shape[0] // 2:] for t in scale] for scale in pred]
    return fake, real


def hinge_generator_loss(pred_fake: list[list[Tensor]]) -> Tensor:
    """L_adv for the generator (hinge): −mean(D(x̂)) of the last layer, averaged over the scales (official ``GAN``)."""
    return sum(-torch.mean(_f32(scale[-1])) for scale in pred_fake) / len(pred_fake)


def hinge_discriminator_loss(pred: list[list[Tensor]], real: bool) -> Tensor:
    """L_adv for the discriminator (hinge), averaged over the scales: mean(relu(1 − D(x))) for real images
    (official ``D_real``), mean(relu(1 + D(x̂))) for generated ones (``D_Fake``)."""
    sign = -1.0 if real else 1.0
    return sum(torch.mean(F.relu(1 + sign * _f32(scale[-1]))) for scale in pred) / len(pred)


def discriminator_feature_matching_loss(pred_fake: list[list[Tensor]], pred_real: list[list[Tensor]]) -> Tensor:
    """Discriminator feature matching (pix2pixHD; official ``GAN_Feat`` before λ_feat): Σ over scales and over all
    layers but the last of L1(D_l(x̂), D_l(x)), divided by the number of scales. Real features are constants."""
    total = pred_fake[0][0].new_zeros((), dtype=torch.float32)
    for fake_scale, real_scale in zip(pred_fake, pred_real, strict=True):
        for f, r in zip(fake_scale[:-1], real_scale[:-1], strict=True):
            total = total + F.l1_loss(_f32(f), _f32(r).detach())
    return total / len(pred_fake)


def domain_alignment_loss(feature_seg: Tensor, feature_img_gt: Tensor) -> Tensor:
    """L_domain (paper eq. 2, official ``no_vgg_feat``): L1 between F_A→S(x_A) and F_B→S(x_B), each L2-normalised
    per position, where x_B is the ground-truth image of x_A."""
    return F.l1_loss(feature_normalize(_f32(feature_seg)), feature_normalize(_f32(feature_img_gt)))


def warp_cycle_loss(warp_cycle: Tensor, exemplar: Tensor) -> Tensor:
    """L_reg, the cycle-warping regulariser (paper eq. 7, official ``G_warp_cycle``): the exemplar warped to the
    input and back must equal itself; L1 to the exemplar average-pooled to the cycle's resolution (full resolution
    for the patch warp)."""
    factor = exemplar.shape[-1] // warp_cycle.shape[-1]
    target = F.avg_pool2d(exemplar, factor) if factor > 1 else exemplar
    return F.l1_loss(_f32(warp_cycle), _f32(target))


def warp_self_loss(warp_out: Tensor, real: Tensor, sample_weights: Tensor) -> Tensor:
    """Warp-self loss (DeepFashion, official ``G_warp_self``): mean(sample_weight · |r_y→x − x_B|) on pseudo pairs
    (same person, other view), where the warped exemplar should already be the ground truth."""
    return torch.mean(sample_weights.reshape(-1, 1, 1, 1) * (_f32(warp_out) - _f32(real)).abs())


def warped_label_weights(gt_label: Tensor, exemplar_label: Tensor, num_classes: int) -> Tensor:
    """Per-pixel weights of the warped-label loss, [B,h,w]: 0 where the input's class does not occur anywhere in the
    exemplar's label map (nothing to warp from) and for class 0 (unknown), 1 elsewhere."""
    b = gt_label.shape[0]
    present = torch.zeros(b, num_classes, dtype=torch.bool, device=gt_label.device)
    present.scatter_(1, exemplar_label.reshape(b, -1), True)
    w = torch.gather(present, 1, gt_label.reshape(b, -1)).reshape(gt_label.shape)
    return (w & (gt_label != 0)).float()


def warped_label_loss(
    warp_mask: Tensor, label: Tensor, exemplar_label: Tensor, total_weight: Tensor | float | None = None
) -> Tensor:
    """Warped-label NLL (ADE20k / CelebA-HQ mask, official ``mask``): the exemplar's one-hot label warped by the
    same correspondence [B,C,h,w] should predict the input's label.

    ``label`` and ``exemplar_label``: class ids [B,1,H,W] at image resolution, nearest-downsampled to (h, w) here.
    loss = Σ weight · −log(warp_mask[gt] + 1e-10) / (Σ weight + 1e-5) with `warped_label_weights`.
    ``total_weight``: Σ weight over the global batch / number of processes (see `pseudo_pair_weights`).
    """
    size = warp_mask.shape[-2:]
    gt = F.interpolate(label.float(), size=size, mode="nearest").long().squeeze(1)
    ref = F.interpolate(exemplar_label.float(), size=size, mode="nearest").long().squeeze(1)
    weights = warped_label_weights(gt, ref, warp_mask.shape[1])
    nll = -torch.log(_f32(warp_mask) + 1e-10).gather(1, gt.unsqueeze(1)).squeeze(1)  # NLL of the gt class
    if total_weight is None:
        total_weight = weights.sum()
    return (nll * weights).sum() / (total_weight + 1e-5)


__all__ = [
    "CONTEXTUAL_LAYERS",
    "FEAT_MATCH_LAYERS",
    "FEAT_MATCH_WEIGHTS",
    "contextual_loss",
    "contextual_vgg_loss",
    "discriminator_feature_matching_loss",
    "domain_alignment_loss",
    "feature_matching_loss",
    "hinge_discriminator_loss",
    "hinge_generator_loss",
    "perceptual_loss",
    "pseudo_pair_weights",
    "split_discriminator_output",
    "warp_cycle_loss",
    "warp_self_loss",
    "warped_label_loss",
    "warped_label_weights",
]
