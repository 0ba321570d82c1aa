"""CoCosNet = correspondence network + translation generator, with the semantic encoding they share."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from cocosnet.correspondence import Correspondence, CorrespondenceOutput
from cocosnet.generator import Generator
from cocosnet.label_resize import one_hot_map
from cocosnet.presets import ModelConfig
from cocosnet.runtime import RuntimeOptions


def checked_label_ids(label: torch.Tensor, cfg: ModelConfig) -> torch.Tensor:
    """Class ids [B,1,H,W] (int64) of a label-map preset, or ValueError naming the bad shape, values or range."""
    if label.dim() == 3:
        label = label.unsqueeze(1)
    if label.dim() != 4 or label.shape[1] != 1:
        raise ValueError(f"preset {cfg.name!r} takes a label map of class ids [B,1,H,W], got {tuple(label.shape)}")
    ids = label.long()
    if torch.compiler.is_compiling():  # a compiled forward: its caller checked the ids (`run_model`), eagerly
        return ids
    if label.is_floating_point() and not torch.equal(ids.to(label.dtype), label):
        raise ValueError("label map must hold integer class ids, got fractional values")
    lo, hi = int(ids.min()), int(ids.max())
    if lo < 0 or hi >= cfg.label_nc:
        raise ValueError(f"label ids must lie in 0..{cfg.label_nc - 1} for preset {cfg.name!r}, got {lo}..{hi}")
    return ids


def encode_semantic(label: torch.Tensor, cfg: ModelConfig) -> torch.Tensor:
    """Model input from a data-set label: class ids [B,1,H,W] -> one-hot [B,label_nc,H,W]; dense maps pass through.

    Raises ValueError naming the bad ids / channel count, so a wrong label never becomes a silently wrong image.
    """
    if cfg.label_nc:
        return one_hot_map(checked_label_ids(label, cfg)[:, 0], cfg.label_nc)
    if label.dim() != 4 or label.shape[1] != cfg.semantic_nc:
        raise ValueError(
            f"preset {cfg.name!r} takes a {cfg.semantic_nc}-channel semantic map [B,{cfg.semantic_nc},H,W], "
            f"got {tuple(label.shape)}"
        )
    return label.float()


@dataclass
class TranslationOutput:
    image: torch.Tensor  # [B,3,H,W] in [-1,1]
    warped: torch.Tensor  # r_y->x, [B,3,H,W]
    correspondence: CorrespondenceOutput


class CoCosNet(nn.Module):
    """`correspondence` (official netCorr) and `generator` (official netG); no discriminator, no losses."""

    def __init__(self, cfg: ModelConfig, runtime: RuntimeOptions | None = None):
        """runtime: how to run (chunking, banding); `cocosnet.runtime.set_runtime` changes it later."""
        super().__init__()
        self.cfg = cfg
        self.correspondence = Correspondence(cfg, runtime)
        self.generator = Generator(cfg, runtime)

    def encode(self, label: torch.Tensor) -> torch.Tensor:
        return encode_semantic(label, self.cfg)

    def forward(
        self,
        semantic: torch.Tensor | None,
        exemplar: torch.Tensor,
        exemplar_semantic: torch.Tensor | None = None,
        label_ids: torch.Tensor | None = None,
        **corr_kwargs,
    ) -> TranslationOutput:
        """semantic / exemplar_semantic: already encoded (see `encode`); exemplar in [-1,1]; label_ids: the class
        ids [B,H,W] behind a one-hot `semantic` (optional; lets SPADE look weights up instead of convolving).
        semantic=None with label_ids: the full-size one-hot map is then made only for the correspondence's first
        convolution, and each smaller one from the resized ids (the same numbers, a fraction of the memory)."""
        h, w = exemplar.shape[-2:]
        if semantic is None and (label_ids is None or not self.cfg.label_nc):
            raise ValueError("give the encoded semantic map, or label_ids for a label-map preset")
        got = tuple((semantic if semantic is not None else label_ids).shape[-2:])
        if got != (h, w):
            raise ValueError(f"semantic map is {got} but the exemplar is {(h, w)}")
        if h % 32 or w % 32:
            raise ValueError(f"image size must be a multiple of 32, got {h}x{w}")
        corr = self.correspondence(semantic, exemplar, exemplar_semantic, label_ids=label_ids, **corr_kwargs)
        g_in, g_kwargs = self.generator_inputs(corr.warp_out, semantic, label_ids)
        del semantic  # a given one-hot map is not kept through the generator
        image = self.generator(g_in, label_ids, **g_kwargs)
        return TranslationOutput(image=image, warped=corr.warp_out, correspondence=corr)

    def generator_inputs(self, warped: torch.Tensor, semantic: torch.Tensor | None,
                         label_ids: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
        """What G is called with, `self.generator(g_in, label_ids, **kwargs)`, for a warped exemplar r_y->x (one
        exemplar's warp, or a composite of several: `inference.multi_exemplar`) and the encoded x_A (None: the
        class ids `label_ids` stand for it)."""
        if label_ids is not None and self.cfg.label_nc:
            # SPADE reads the one-hot part through the ids, so only the first layer sees the full conditioning, at
            # 1/32 (nearest resizing commutes with the concatenation: the same numbers, with or without autograd)
            small = (warped.shape[-2] // 32, warped.shape[-1] // 32)
            small_sem = (one_hot_map(label_ids, self.cfg.label_nc, small) if semantic is None
                         else F.interpolate(semantic, size=small, mode="nearest"))
            fc_cond = torch.cat([F.interpolate(warped, size=small, mode="nearest"), small_sem], 1)
            return warped, {"fc_cond": fc_cond}
        if semantic is None:
            raise ValueError("give the encoded semantic map, or label_ids for a label-map preset")
        return torch.cat([warped, semantic], 1), {}


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


__all__ = ["CoCosNet", "TranslationOutput", "checked_label_ids", "count_parameters", "encode_semantic"]
