"""Baselines a model is measured against: images made without a model, from what the sample already holds.

* `baseline_mean_colour`: the exemplar's per-class mean colour painted on the input layout.
* `baseline_paste`: the exemplar itself.
* `rerender_answer_key` (landscapes): the answer key painted again with other texture noise, what a perfect
  model of the renderer would produce: the floor of the distribution metrics.
"""

from __future__ import annotations

import torch
from torch import Tensor

from cocosnet.data.landscapes import FAMILIES, SPLIT_SEED_SPAN, make_layout, make_style, render
from cocosnet.data.transforms import image_to_tensor
from cocosnet.evaluation.metrics.answer_key import class_mean_colours


def baseline_mean_colour(layout: Tensor, exemplar: Tensor, exemplar_label: Tensor) -> Tensor:
    """The exemplar's per-class mean colour painted on ``layout`` (B, 1, H, W); classes the exemplar lacks
    get the exemplar's global mean colour. Images in [-1, 1]; the exemplar may have another size."""
    num_classes = int(max(layout.max(), exemplar_label.max())) + 1
    means, counts = class_mean_colours(exemplar.float(), exemplar_label, num_classes)
    global_mean = exemplar.float().mean(dim=(2, 3))  # (B, C)
    palette = torch.where((counts > 0).unsqueeze(-1), means, global_mean.unsqueeze(1))  # (B, K, C)
    b, _, h, w = layout.shape
    index = layout.view(b, h * w, 1).long().expand(-1, -1, palette.shape[-1])
    return palette.gather(1, index).permute(0, 2, 1).reshape(b, -1, h, w).to(exemplar.dtype)


def baseline_paste(exemplar: Tensor) -> Tensor:
    """The exemplar unchanged (a copy)."""
    return exemplar.clone()


# Texture-noise seeds of re-rendered answer keys: past every split's seed range, so no scene shares their noise.
RERENDER_SEED_OFFSET = 4 * SPLIT_SEED_SPAN


def rerender_answer_key(scene: Tensor, size: int | tuple[int, int],
                        seed_offset: int = RERENDER_SEED_OFFSET) -> Tensor:
    """The answer key of `scene` (`cocosnet.data.landscapes_dataset.answer_key_scene`) painted with other
    texture noise, [3,H,W] in [-1,1].

    Same layout, same style, new noise: what a perfect model of the renderer would produce, so its scores are
    the floor of the distribution metrics (SWD between two samples of the same scenes). `seed_offset=0` gives
    the answer key itself."""
    lay_seed, style_seed, family = (int(v) for v in scene)
    layout = make_layout(lay_seed, size)
    return image_to_tensor(render(layout, make_style(style_seed, FAMILIES[family]), lay_seed + seed_offset))
