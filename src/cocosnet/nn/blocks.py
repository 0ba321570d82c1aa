"""Residual blocks: the SPADE residual block (generator, domain adaptors) and the correspondence's shared block."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cocosnet.label_resize import resize_ids
from cocosnet.nn.inplace import arithmetic
from cocosnet.nn.normalization import SPADE
from cocosnet.nn.spectral import sn_conv


class SPADEResnetBlock(nn.Module):
    """out = shortcut(x) + conv_1(pad(lrelu(norm_1(conv_0(pad(lrelu(norm_0(x, c))))), c))), spectral-normed convs."""

    def __init__(self, fin: int, fout: int, cond_nc: int, hidden: int = 128, onehot_start: int | None = None):
        super().__init__()
        self.learned_shortcut = fin != fout
        fmiddle = min(fin, fout)
        self.pad = nn.ReflectionPad2d(1)
        self.conv_0 = sn_conv(fin, fmiddle, 3)
        self.conv_1 = sn_conv(fmiddle, fout, 3)
        if self.learned_shortcut:
            self.conv_s = sn_conv(fin, fout, 1, bias=False)
        self.norm_0 = SPADE(fin, cond_nc, hidden, onehot_start)
        self.norm_1 = SPADE(fmiddle, cond_nc, hidden, onehot_start)
        if self.learned_shortcut:
            self.norm_s = SPADE(fin, cond_nc, hidden, onehot_start)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None, ids: torch.Tensor | None = None) -> torch.Tensor:
        """ids: optional class ids [B,H,W] of the one-hot part of `cond` (faster SPADE, same numbers); cond=None
        when that part is all of it (the ids then stand for it)."""
        if cond is not None and cond.shape[-2:] != x.shape[-2:]:  # resize once for the block's SPADE layers
            cond = F.interpolate(cond, size=x.shape[-2:], mode="nearest")
        if ids is not None:
            ids = resize_ids(ids, x.shape[-2:])
        ops = arithmetic()  # inference: reuse the normalised maps and the residual's buffer
        x_s = self.conv_s(self.norm_s(x, cond, ids)) if self.learned_shortcut else x
        dx = self.conv_0(self.pad(ops.leaky_relu(self.norm_0(x, cond, ids), 0.2)))
        dx = self.conv_1(self.pad(ops.leaky_relu(self.norm_1(dx, cond, ids), 0.2)))
        return ops.add(dx, x_s)


class ResidualBlock(nn.Module):
    """The correspondence network's shared refinement block (no spectral norm; one PReLU used twice)."""

    def __init__(self, channels: int):
        super().__init__()
        self.pad = nn.ReflectionPad2d(1)
        self.conv1 = nn.Conv2d(channels, channels, 3)
        self.conv2 = nn.Conv2d(channels, channels, 3)
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        self.prelu = nn.PReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.prelu(self.norm(self.conv1(self.pad(x))))
        out = self.norm(self.conv2(self.pad(out)))
        return self.prelu(out + x)
