"""PositionalNorm (PONO) and SPADE modulation: alpha(r) * (F - mu) / sigma + beta(r)."""

from __future__ import annotations

import sys

import torch
import torch.nn.functional as F
from torch import nn

from cocosnet.label_resize import resize_ids
from cocosnet.nn.inplace import arithmetic

EPS = sys.float_info.epsilon  # the official feature_normalize adds machine epsilon to the norm


def l2_norm(x: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """The L2 norm over `dim`, kept: a square and a sum, since torch.linalg.vector_norm's CPU reduction runs
    2.5-3x slower over a strided dimension (docs/model.md, "Reductions"); the same value to float rounding.
    The floor at the smallest normal float changes nothing but a zero vector's gradient: 0, as vector_norm's,
    where sqrt's would be infinite."""
    return x.square().sum(dim=dim, keepdim=True).clamp_min(torch.finfo(x.dtype).tiny).sqrt()


def feature_normalize(x: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """Divide each position's feature vector by its L2 norm (+ machine epsilon), as the official code does."""
    return x / (l2_norm(x, dim) + EPS)


class PositionalNorm2d(nn.Module):
    """Normalise over channels at each pixel; the variance is the unbiased one (N-1), eps 1e-5 inside the root.

    Two passes (the mean, then the sum of squared deviations) rather than torch.var_mean, whose CPU kernel
    (Welford) runs 4x slower over the channels of an NCHW map and 13x of a channels-last one (docs/model.md,
    "Reductions"); both are accurate to a few float32 ulps of the variance."""

    def __init__(self, eps: float = 1e-5):
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        centered = x - x.mean(dim=1, keepdim=True)
        var = centered.square().sum(dim=1, keepdim=True) / (x.shape[1] - 1)
        ops = arithmetic()  # inference: normalise the centred map in place, one full-size tensor instead of two
        return ops.div(centered, ops.sqrt(ops.add(var, self.eps)))


def onehot_conv3x3(ids: torch.Tensor, weight: torch.Tensor, padding: str = "reflect") -> torch.Tensor:
    """conv3x3(pad(one_hot(ids)), weight) without the one-hot map: per tap, a table lookup. padding: "reflect"
    (SPADE's mlp_shared) or "zeros" (a domain adaptor's first convolution: a tap outside the map reads a zero row,
    the table's extra class C).

    A 3x3 convolution of a one-hot map sums, for each of the nine taps, the weight column of the class found
    there; so [B,H,W] ids and a [out, C, 3, 3] weight give [B,out,H,W] with 9 gathers instead of 9*C*out MACs.
    The nine lookups and their sum are one `F.embedding_bag`: each position's bag holds its nine taps' classes,
    each offset into its tap's block of the table, summed in tap order (the bits of nine lookups added one after
    another in float32) without a temporary per tap. Half-precision weights are summed in float32 and rounded
    once: embedding_bag has no fast kernel for them, and one rounding is more accurate than nine.
    """
    b, h, w = ids.shape
    if padding == "zeros":
        weight = F.pad(weight, (0, 0, 0, 0, 0, 1))  # class C: all-zero weights
        padded = F.pad(ids, (1, 1, 1, 1), value=weight.shape[1] - 1)
    elif padding == "reflect":
        padded = F.pad(ids[:, None].float(), (1, 1, 1, 1), mode="reflect")[:, 0].long()
    else:
        raise ValueError(f"padding must be 'reflect' or 'zeros', got {padding!r}")
    cout, c = weight.shape[:2]
    bags = torch.stack([padded[:, i : i + h, j : j + w] + (3 * i + j) * c for i in range(3) for j in range(3)], -1)
    # tap k's block: rows k*C .. k*C + C-1; contiguous, since a strided table is read element by element (20x slower)
    table = weight.permute(2, 3, 1, 0).reshape(9 * c, cout).to(torch.promote_types(weight.dtype, torch.float32))
    table = table.contiguous()  # a no-op where the reshape copied (NCHW weights); channels-last ones stay a view
    if torch.compiler.is_compiling():  # traced (compile, export): nine gathers, as ONNX Gather ops (its EmbeddingBag
        # is a Loop that OpenVINO cannot convert); inductor fuses them without the temporaries
        summed = F.embedding(bags[..., 0], table)  # the bags carry each tap's offset into the table
        for k in range(1, 9):
            summed = summed + F.embedding(bags[..., k], table)
    else:
        summed = F.embedding_bag(bags.view(-1, 9), table, mode="sum")
    return summed.to(weight.dtype).view(b, h, w, cout).permute(0, 3, 1, 2)


class SPADE(nn.Module):
    """PONO then a per-pixel affine map predicted from the conditioning (warped exemplar + semantics).

    `onehot_start`: the conditioning's channels from there on are a one-hot label map. When the class ids are
    passed too, mlp_shared's convolution over those channels becomes table lookups (`onehot_conv3x3`): the same
    numbers (to float rounding) for a fraction of the work — 151 of ADE20k's 154 conditioning channels.
    """

    def __init__(self, norm_nc: int, cond_nc: int, hidden: int = 128, onehot_start: int | None = None):
        super().__init__()
        self.onehot_start = onehot_start
        self.param_free_norm = PositionalNorm2d()
        self.mlp_shared = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(cond_nc, hidden, 3), nn.ReLU())
        self.pad = nn.ReflectionPad2d(1)
        self.mlp_gamma = nn.Conv2d(hidden, norm_nc, 3)
        self.mlp_beta = nn.Conv2d(hidden, norm_nc, 3)

    def shared(self, cond: torch.Tensor | None, ids: torch.Tensor | None = None) -> torch.Tensor:
        """mlp_shared(cond); with ids, the one-hot channels are looked up, so `cond` is read only below
        onehot_start (None when there is nothing there)."""
        if ids is None or self.onehot_start is None:
            if cond is None:
                raise ValueError("SPADE needs its conditioning map (class ids stand only for one-hot channels)")
            return self.mlp_shared(cond)
        conv, k, ops = self.mlp_shared[1], self.onehot_start, arithmetic()
        if k and cond is None:
            raise ValueError(f"SPADE reads the conditioning's first {k} channels: give cond with the ids")
        out = onehot_conv3x3(ids, conv.weight[:, k:])
        if k:
            out = out + F.conv2d(self.pad(cond[:, :k]), conv.weight[:, :k])
        return ops.relu(ops.add(out, conv.bias[:, None, None]))

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None, ids: torch.Tensor | None = None) -> torch.Tensor:
        """cond: the conditioning map; None when ids stand for all of it (onehot_start 0)."""
        normalized = self.param_free_norm(x)
        if cond is not None and cond.shape[-2:] != x.shape[-2:]:
            cond = F.interpolate(cond, size=x.shape[-2:], mode="nearest")
        if ids is not None:
            ids = resize_ids(ids, x.shape[-2:])
        actv = self.pad(self.shared(cond, ids))
        ops = arithmetic()  # inference: modulate in place, each of gamma and beta freed once used
        return ops.add(ops.mul(normalized, ops.add(self.mlp_gamma(actv), 1)), self.mlp_beta(actv))
