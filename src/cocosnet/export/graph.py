"""The network as one exportable graph: (semantic input, exemplar[, exemplar label]) -> (image, warped exemplar).

The input checks (class-id range, channel count, size) stay in Python, before the graph runs
(`check_graph_inputs`): an exported graph cannot raise a ValueError naming a bad label. Inside the graph the class
ids become the one-hot map by comparison (exact), and SPADE keeps reading its first convolution over that map as
table lookups (`nn.normalization.onehot_conv3x3`: gathers in ONNX), as the torch path does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cocosnet.label_resize import resize_ids
from cocosnet.model import CoCosNet, checked_label_ids, encode_semantic
from cocosnet.presets import ModelConfig

INPUT_NAMES = ("semantic", "exemplar", "exemplar_semantic")
OUTPUT_NAMES = ("image", "warped")


def one_hot(ids: torch.Tensor, classes: int) -> torch.Tensor:
    """[B,H,W] class ids -> one-hot float [B,classes,H,W]: the same numbers as `encode_semantic`'s scatter, as an
    Equal the exporters know (a scatter into zeros exports as ScatterElements)."""
    return (ids[:, None] == torch.arange(classes, device=ids.device)[None, :, None, None]).float()


def input_names(cfg: ModelConfig) -> tuple[str, ...]:
    return INPUT_NAMES if cfg.needs_exemplar_label else INPUT_NAMES[:2]


class ExportGraph(nn.Module):
    """Wraps a folded, eval-mode CoCosNet. `dtype` bfloat16 / float16: the network runs under autocast, as
    `run_model` runs it (the exporters record the casts); inputs and outputs stay float32 (class ids int64)."""

    def __init__(self, model: CoCosNet, dtype: torch.dtype = torch.float32):
        super().__init__()
        self.model, self.dtype = model, dtype
        self.cfg: ModelConfig = model.cfg

    def forward(self, semantic: torch.Tensor, exemplar: torch.Tensor,
                exemplar_semantic: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        cfg, dt = self.cfg, torch.float32
        ex_sem = None
        if exemplar_semantic is not None:
            if cfg.label_nc:
                ids = exemplar_semantic[:, 0]
                if cfg.feature_stride > 1:  # as run_model: only the nearest-resized map is read (maskmix)
                    fh, fw = (n // cfg.feature_stride for n in ids.shape[-2:])
                    ids = resize_ids(ids, (fh, fw))
                ex_sem = one_hot(ids, cfg.label_nc).to(dt)
            else:
                ex_sem = exemplar_semantic.to(dt)
        if cfg.label_nc:
            ids = semantic[:, 0]
            sem = one_hot(ids, cfg.label_nc).to(dt)
        else:
            ids, sem = None, semantic.to(dt)
        with torch.autocast(exemplar.device.type, dtype=self.dtype, enabled=self.dtype != torch.float32):
            out = self.model(sem, exemplar, ex_sem, label_ids=ids, return_mask=False)
        return out.image.float(), out.warped.float()


def check_graph_inputs(cfg: ModelConfig, semantic: torch.Tensor, exemplar: torch.Tensor,
                       exemplar_semantic: torch.Tensor | None) -> list[torch.Tensor]:
    """The checks `run_model` makes, in Python, and the tensors the graph takes (class ids int64 [B,1,H,W],
    dense maps and the exemplar float32), or ValueError naming the problem — the torch backend's errors."""
    size = (cfg.image_size, cfg.image_size)
    if exemplar.dim() != 4 or exemplar.shape[1] != 3:
        raise ValueError(f"exemplar must be [B,3,H,W], got {tuple(exemplar.shape)}")
    if tuple(exemplar.shape[-2:]) != size:
        raise ValueError(f"the exported graph runs at {size[0]}x{size[1]}, got an exemplar of "
                         f"{tuple(exemplar.shape[-2:])} (export again with --image-size)")
    if cfg.needs_exemplar_label and exemplar_semantic is None:
        raise ValueError(f"preset {cfg.name!r} needs the exemplar's label map (maskmix)")

    def semantic_input(x: torch.Tensor) -> torch.Tensor:
        if cfg.label_nc:
            return checked_label_ids(x, cfg)
        return encode_semantic(x, cfg).contiguous()

    tensors = [semantic_input(semantic), exemplar.float().contiguous()]
    if tuple(tensors[0].shape[-2:]) != size:
        raise ValueError(f"semantic map is {tuple(tensors[0].shape[-2:])} but the exemplar is {size}")
    if cfg.needs_exemplar_label:
        tensors.append(semantic_input(exemplar_semantic))
    return tensors


def reference_inputs(cfg: ModelConfig, batch: int = 1, seed: int = 0) -> list[torch.Tensor]:
    """A seeded input of the graph's shapes: random class ids in 8x8 blocks or a random dense map in [0,1], and a
    smooth exemplar in [-1,1] (bilinear 8x upsampled noise: photo-like, where pixel noise would make the warp's
    sharp softmax weigh uncorrelated colours). The golden check's input."""
    g = torch.Generator().manual_seed(seed)
    s = cfg.image_size

    def semantic() -> torch.Tensor:
        if cfg.label_nc:  # blocks of 8x8 so the correspondence sees regions, not noise
            ids = torch.randint(0, cfg.label_nc, (batch, 1, s // 8, s // 8), generator=g)
            return ids.repeat_interleave(8, 2).repeat_interleave(8, 3)
        return torch.rand(batch, cfg.semantic_nc, s, s, generator=g)

    coarse = torch.rand(batch, 3, s // 8, s // 8, generator=g) * 2 - 1
    tensors = [semantic(), F.interpolate(coarse, size=(s, s), mode="bilinear", align_corners=False)]
    if cfg.needs_exemplar_label:
        tensors.append(semantic())
    return tensors
