"""The TensorBoard picture of a training step: input | exemplar | warped exemplar | output | ground truth, one row
per sample (drawn with `cocosnet.viz`)."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from cocosnet.presets import ModelConfig
from cocosnet.viz import grid, semantic_preview, to_unit


def step_grid(visuals: Mapping[str, torch.Tensor], cfg: ModelConfig, max_rows: int = 4) -> torch.Tensor:
    """`visuals` (`semantic`, `exemplar`, `warped`, `image`, `real`: batches, images in [-1,1]) -> one
    [3, rows·H, 5·W] image in [0,1] of the first `max_rows` samples."""
    columns = [semantic_preview(visuals["semantic"], cfg),
               *(to_unit(visuals[k]) for k in ("exemplar", "warped", "image", "real"))]
    columns = [c.cpu()[:max_rows].clamp(0, 1) for c in columns]
    return grid([[c[i] for c in columns] for i in range(columns[0].shape[0])])
