"""The correspondence inspector: how sure each input pixel's match is, where in the exemplar it took its style
from, and which input classes the exemplar does not have.

Computed from the correspondence's own theta / phi with its own match vectors and temperature (by default the
warp's patch cosines, `cocosnet.nn.patch_match`), block of input rows by block (the HW x HW matrix is never built;
at most `MAX_BLOCK_ELEMENTS` scores at once, as the warp):

- confidence: the largest softmax weight of each input position's row (1: one exemplar position alone; 1/M:
  uniform over the M exemplar positions);
- flow: the softmax-weighted exemplar position minus the input position (the coordinate grid warped as the warp
  warps the colours, so it is where the warped colour came from on average), in image pixels (dx, dy);
- flow_argmax: the same for the single best-matching exemplar position.

Both are computed at the correlation grid's resolution and upsampled as the warp is (nearest for the nearest and
the 4x4 patch warps, where it is exact for every pixel of a patch; bilinear for the bilinear warp).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F

from cocosnet.nn.attention import block_rows
from cocosnet.nn.patch_match import patch_score_blocks
from cocosnet.presets import ModelConfig


class MissingClass(NamedTuple):
    id: int
    name: str


@dataclass
class Inspection:
    confidence: torch.Tensor  # [B,1,H,W] in [1/M, 1]
    flow: torch.Tensor  # [B,2,H,W], (dx, dy) in image pixels: expected exemplar position - input position
    flow_argmax: torch.Tensor  # [B,2,H,W], the best match's position - input position
    missing_classes: list[list[MissingClass]] | None = None  # per item; None without both label maps


def cell_centres(fh: int, fw: int, stride: int, device=None) -> torch.Tensor:
    """Image-pixel (x, y) of each correlation cell's centre, row-major [fh*fw, 2] (pixel centres at integers)."""
    ys, xs = torch.meshgrid(torch.arange(fh, device=device), torch.arange(fw, device=device), indexing="ij")
    grid = torch.stack([xs, ys], -1).reshape(-1, 2).float()
    return grid * stride + (stride - 1) / 2


def match_statistics(q: torch.Tensor, k: torch.Tensor, scale: float, positions: torch.Tensor, chunk: int = 4096
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For q [B,N,D] against k [B,M,D] and the M positions [M,2]: (max softmax [B,N], softmax-weighted position
    [B,N,2], argmax index [B,N]), block of query rows by block, each block's softmax as the warp computes it."""
    b, n, _ = q.shape
    chunk = block_rows(chunk, k.shape[-2], b)
    blocks = ((slice(start, start + chunk), torch.matmul(q[:, start : start + chunk], k.transpose(1, 2)) * scale)
              for start in range(0, n, chunk))
    return statistics_of_blocks(blocks, b, n, positions, q)


def statistics_of_blocks(blocks: Iterable[tuple[slice, torch.Tensor]], b: int, n: int, positions: torch.Tensor,
                         like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`match_statistics` from blocks of the softmax's logits: (query rows, [B, rows, M]) for the N query rows."""
    conf, expected = like.new_empty(b, n), like.new_empty(b, n, 2)
    best = torch.empty(b, n, dtype=torch.long, device=like.device)
    pos = positions.to(like.dtype)
    for rows, logits in blocks:
        p = torch.softmax(logits, dim=-1)
        conf[:, rows], best[:, rows] = p.max(dim=-1)
        expected[:, rows] = torch.matmul(p, pos)
    return conf, expected, best


def upsample_as_warp(x: torch.Tensor, cfg: ModelConfig) -> torch.Tensor:
    """A correlation-grid map [B,C,fh,fw] at image resolution, upsampled as the warp upsamples the colours."""
    s = cfg.feature_stride
    if s == 1:
        return x
    if cfg.warp == "bilinear":
        return F.interpolate(x, scale_factor=s, mode="bilinear", align_corners=False)
    return F.interpolate(x, scale_factor=s, mode="nearest")  # nearest, and patch: each patch moves whole


def inspect_features(correspondence, theta: torch.Tensor, phi: torch.Tensor, chunk: int | None = None
                     ) -> Inspection:
    """The inspection of one correspondence (a `cocosnet.correspondence.Correspondence`) from its theta, phi
    [B,C,fh,fw] (`return_intermediates=True`), in float32 as the warp. missing_classes is left None."""
    cfg = correspondence.cfg
    theta, phi = theta.float(), phi.float()
    b, _, fh, fw = theta.shape
    chunk = chunk if chunk is not None else correspondence.runtime.warp_chunk
    scale = 1.0 / cfg.temperature
    with torch.autocast(theta.device.type, enabled=False):
        centres = cell_centres(fh, fw, cfg.feature_stride, theta.device)
        if correspondence.runtime.warp_impl == "auto" and cfg.match_kernel > 1:  # the warp's own logits
            blocks = patch_score_blocks(theta, phi, scale, cfg.match_kernel, chunk)
            conf, expected, best = statistics_of_blocks(blocks, b, fh * fw, centres, theta)
        else:
            q, k = correspondence._match_vectors(theta), correspondence._match_vectors(phi)
            conf, expected, best = match_statistics(q, k, scale, centres, chunk)

    def grid(v: torch.Tensor) -> torch.Tensor:  # [B,N,C] -> [B,C,fh,fw]
        return v.transpose(1, 2).reshape(b, -1, fh, fw)

    return Inspection(confidence=upsample_as_warp(grid(conf[..., None]), cfg),
                      flow=upsample_as_warp(grid(expected - centres), cfg),
                      flow_argmax=upsample_as_warp(grid(centres[best] - centres), cfg))


def class_names(cfg: ModelConfig) -> list[str]:
    """The preset's class names, numbered ("class 17") where it names fewer than its classes."""
    return list(cfg.class_names[: cfg.label_nc]) + [f"class {i}" for i in range(len(cfg.class_names), cfg.label_nc)]


def missing_classes(semantic: torch.Tensor, exemplar_semantic: torch.Tensor, cfg: ModelConfig
                    ) -> list[list[MissingClass]]:
    """Per item: the classes of the input label map (class ids [B,1,H,W]) that its exemplar's label map lacks
    (the don't-care class aside), whose style the warp has to take from other classes."""
    names = class_names(cfg)
    out = []
    for ids, ex_ids in zip(semantic, exemplar_semantic, strict=True):
        lacking = set(torch.unique(ids).tolist()) - set(torch.unique(ex_ids).tolist()) - {cfg.dontcare_id}
        out.append([MissingClass(i, names[i]) for i in sorted(lacking)])
    return out


__all__ = ["Inspection", "MissingClass", "cell_centres", "class_names", "inspect_features", "match_statistics",
           "missing_classes", "statistics_of_blocks", "upsample_as_warp"]
