"""softmax(q kᵀ · scale) · v without materialising the N x M matrix, and the generator's self-attention.

The correspondence warp and the SAGAN-style self-attention are both this product. `dense` builds the matrix (the
official path; losses that need the matrix use it), `chunked` processes blocks of query rows (memory linear in N,
the same arithmetic row by row, safe for autograd; the default), `sdpa` calls PyTorch's fused kernel with the
narrower side zero-padded (zeros add nothing to a dot product). For the correspondence's wide match vectors chunked
was both the fastest and the leanest (SDPA's memory-linear kernel is not used for such wide heads) — hence the
default; benchmarks/warp_memory.py measures them, docs/model.md has the table.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cocosnet.nn.inplace import arithmetic
from cocosnet.nn.spectral import sn_conv


def _dense(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float) -> torch.Tensor:
    ops = arithmetic()  # inference: the scores are scaled and soft-maxed in place
    return torch.matmul(ops.softmax(ops.mul(torch.matmul(q, k.transpose(-1, -2)), scale), -1), v)


MAX_BLOCK_ELEMENTS = 1 << 22  # 16 MB of fp32 scores per block at most (keeps inference peak RSS low)


def block_rows(chunk: int, keys: int, batch: int) -> int:
    """Query rows per block of scores: the requested `chunk`, cut so a block holds at most MAX_BLOCK_ELEMENTS."""
    return max(1, min(chunk, MAX_BLOCK_ELEMENTS // max(1, keys * batch)))


def _chunked(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float, chunk: int) -> torch.Tensor:
    """`_dense` on blocks of query rows, each block copied into one preallocated result as soon as it is done."""
    chunk = block_rows(chunk, k.shape[-2], q.shape[0])
    if q.shape[-2] <= chunk:
        return _dense(q, k, v, scale)
    out = q.new_empty(*q.shape[:-1], v.shape[-1])
    for start in range(0, q.shape[-2], chunk):
        rows = slice(start, start + chunk)
        out[..., rows, :] = _dense(q[..., rows, :], k, v, scale)  # autograd routes the block's gradient back
    return out


def _sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float) -> torch.Tensor:
    d, e = q.shape[-1], v.shape[-1]
    if d < e:
        q, k = F.pad(q, (0, e - d)), F.pad(k, (0, e - d))
    elif e < d:
        v = F.pad(v, (0, d - e))
    out = F.scaled_dot_product_attention(q.unsqueeze(1), k.unsqueeze(1), v.unsqueeze(1), scale=scale)
    return out.squeeze(1)[..., :e]


def softmax_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float = 1.0, impl: str = "auto", chunk: int = 4096
) -> torch.Tensor:
    """softmax(q @ kᵀ * scale, dim=-1) @ v for q [B,N,D], k [B,M,D], v [B,M,E] -> [B,N,E].

    impl: "dense" | "chunked" | "sdpa" | "auto" (= chunked, the fastest and memory-linear on CPU).
    """
    if impl == "dense":
        return _dense(q, k, v, scale)
    if impl in ("chunked", "auto"):
        return _chunked(q, k, v, scale, chunk)
    if impl == "sdpa":
        return _sdpa(q, k, v, scale)
    raise ValueError(f"unknown attention implementation {impl!r} (dense, chunked, sdpa, auto)")


class SelfAttention(nn.Module):
    """SAGAN/BigGAN self-attention: theta, phi (C/8), g (C/2) 1x1 spectral-normed convs, 2x2-pooled keys, gamma=0."""

    def __init__(self, channels: int, impl: str = "auto", chunk: int = 4096):
        super().__init__()
        self.channels = channels
        self.impl, self.chunk = impl, chunk
        self.theta = sn_conv(channels, channels // 8, 1, bias=False)
        self.phi = sn_conv(channels, channels // 8, 1, bias=False)
        self.g = sn_conv(channels, channels // 2, 1, bias=False)
        self.o = sn_conv(channels // 2, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.tensor(0.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        theta = self.theta(x).flatten(2).transpose(1, 2)  # [B, HW, C/8]
        phi = F.max_pool2d(self.phi(x), 2).flatten(2).transpose(1, 2)  # [B, HW/4, C/8]
        g = F.max_pool2d(self.g(x), 2).flatten(2).transpose(1, 2)  # [B, HW/4, C/2]
        o = softmax_attention(theta, phi, g, 1.0, self.impl, self.chunk)  # [B, HW, C/2]
        o = self.o(o.transpose(1, 2).reshape(b, self.channels // 2, h, w))
        return self.gamma * o + x
