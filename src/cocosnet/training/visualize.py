"""Image grids for TensorBoard: input | exemplar | warped exemplar | output | ground truth, one row per sample."""

from __future__ import annotations

import torch

from cocosnet.presets import ModelConfig


def palette(n: int) -> torch.Tensor:
    """n distinct colours [n,3] in [0,1] (the bit-interleaved PASCAL VOC scheme)."""
    out = torch.zeros(n, 3)
    for i in range(n):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        out[i] = torch.tensor([r, g, b]) / 255.0
    return out


def semantic_preview(semantic: torch.Tensor, cfg: ModelConfig) -> torch.Tensor:
    """RGB [B,3,H,W] in [0,1] of an encoded semantic map: class colours for label maps, the pose skeleton (first
    three channels) for 20-channel pose maps, the first channel (edges) in grey otherwise."""
    semantic = semantic.detach().float().cpu()
    if cfg.label_nc:
        colors = torch.tensor(cfg.class_colors, dtype=torch.float32) / 255.0 if cfg.class_colors else None
        if colors is None or len(colors) < cfg.label_nc:
            colors = palette(cfg.label_nc)
        ids = semantic.argmax(1)
        return colors[ids].permute(0, 3, 1, 2)
    if semantic.shape[1] == 20:
        return semantic[:, :3].clamp(0, 1)
    return semantic[:, :1].clamp(0, 1).expand(-1, 3, -1, -1)


def image_grid(columns: list[torch.Tensor], max_rows: int = 4) -> torch.Tensor:
    """columns: [B,3,H,W] tensors in [0,1] -> one [3, rows·H, cols·W] image."""
    cols = [c.detach().float().cpu()[:max_rows].clamp(0, 1) for c in columns]
    rows = [torch.cat([c[i] for c in cols], dim=2) for i in range(cols[0].shape[0])]
    return torch.cat(rows, dim=1)


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """[-1,1] -> [0,1]."""
    return (x.detach().float() + 1) / 2
