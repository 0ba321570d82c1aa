"""PositionalNorm (PONO) and SPADE modulation: alpha(r) * (F - mu) / sigma + beta(r)."""

from __future__ import annotations

import sys

import torch
import torch.nn.functional as F
from torch import nn

EPS = sys.float_info.epsilon  # the official feature_normalize adds machine epsilon to the norm


def feature_normalize(x: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """Divide each position's feature vector by its L2 norm (+ machine epsilon), as the official code does."""
    return x / (torch.linalg.vector_norm(x, dim=dim, keepdim=True) + EPS)


class PositionalNorm2d(nn.Module):
    """Normalise over channels at each pixel; the variance is the unbiased one (N-1), eps 1e-5 inside the root."""

    def __init__(self, eps: float = 1e-5):
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var, mean = torch.var_mean(x, dim=1, keepdim=True, correction=1)
        return (x - mean) / (var + self.eps).sqrt()


class SPADE(nn.Module):
    """PONO then a per-pixel affine map predicted from the conditioning (warped exemplar + semantics)."""

    def __init__(self, norm_nc: int, cond_nc: int, hidden: int = 128):
        super().__init__()
        self.param_free_norm = PositionalNorm2d()
        self.mlp_shared = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(cond_nc, hidden, 3), nn.ReLU())
        self.pad = nn.ReflectionPad2d(1)
        self.mlp_gamma = nn.Conv2d(hidden, norm_nc, 3)
        self.mlp_beta = nn.Conv2d(hidden, norm_nc, 3)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        normalized = self.param_free_norm(x)
        if cond.shape[-2:] != x.shape[-2:]:
            cond = F.interpolate(cond, size=x.shape[-2:], mode="nearest")
        actv = self.pad(self.mlp_shared(cond))
        return normalized * (1 + self.mlp_gamma(actv)) + self.mlp_beta(actv)
