"""The warp's k x k patch cosines from the 1 x 1 products: k² times fewer multiplications, the same cosines.

The official match vectors unfold each position's k x k neighbourhood of the zero-padded feature map (D = C·k²
values), centre them over their own D values and L2-normalise them; the warp's scores are their dot products, a
[hw x hw x D] matrix product (at ADE20k 256²: 77 GFLOP, 8% of the whole forward). The dot product of two
unfolded vectors is the sum, over the k² offsets s, of the 1 x 1 products of positions p+s and q+s, so the products
of the padded maps' C-channel vectors ([(h+2r)(w+2r)]² x C, r = k // 2) summed along k² shifted diagonals give
every patch product. Centring and norms come out of the same algebra:

- Σ (x - μ_p)(y - ν_q) = Σ (x - a)(y - b) - D (μ_p - a)(ν_q - b) for any constants a, b (sums over the D values of
  the two patches): the products are taken of the maps less their global means a, b (the padding then holds -a,
  -b), which keeps them near the centred products whatever offset the features carry;
- the centred norm is Σ_s [V(p+s) + C (m(p+s) - μ_p)²], m and V a position's channel mean and sum of squared
  deviations (zero in the padding), μ_p = the mean of m over the patch: a sum of non-negative terms.

It is exact arithmetic rearranged: the cosines agree with the unfolded vectors' to float32 rounding
(`patch_cosine_error_bound` states how far; tests/nn/test_patch_match.py). Inference and training alike, and the
correspondence inspector; the cycle warp and `return_corr`, which need the whole matrix, keep the unfolded vectors.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F

from cocosnet.nn.attention import block_rows
from cocosnet.nn.inplace import arithmetic
from cocosnet.nn.normalization import EPS


def _window(x: torch.Tensor, dy: int, dx: int, h: int, w: int) -> torch.Tensor:
    return x[..., dy : dy + h, dx : dx + w]


def patch_moments(feat: torch.Tensor, kernel: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean and the centred L2 norm of each position's k x k zero-padded patch vector (C·k² values), [B, h·w]
    each: what centring and normalising the unfolded vectors computes, without unfolding them."""
    b, c, h, w = feat.shape
    r = kernel // 2
    mean = feat.mean(1, keepdim=True)
    deviation = (feat - mean).square().sum(1, keepdim=True)
    mean, deviation = (F.pad(t, (r, r, r, r)) for t in (mean, deviation))
    offsets = [(dy, dx) for dy in range(kernel) for dx in range(kernel)]
    patch_mean = _window(mean, 0, 0, h, w).clone()
    square = _window(deviation, 0, 0, h, w).clone()
    for dy, dx in offsets[1:]:
        patch_mean = patch_mean + _window(mean, dy, dx, h, w)
        square = square + _window(deviation, dy, dx, h, w)
    patch_mean = patch_mean / kernel**2
    spread = sum((_window(mean, dy, dx, h, w) - patch_mean).square() for dy, dx in offsets)
    norm = (square + c * spread).clamp_min(torch.finfo(feat.dtype).tiny).sqrt()
    return patch_mean.flatten(1), norm.flatten(1)


def _shifted_sum(products: torch.Tensor, kernel: int, rows: int, h: int, w: int,
                 scratch: tuple[torch.Tensor, torch.Tensor] | None) -> torch.Tensor:
    """products [B, rows+2r, w+2r, h+2r, w+2r] (padded query x padded key positions) -> the patch products
    [B, rows, w, h, w]: the k² shifted diagonals summed, the column shifts first, then the row shifts."""
    across = products[:, :, 0:w, :, 0:w]
    if scratch is not None:
        across = scratch[0][:, : products.shape[1]].copy_(across)
    for dx in range(1, kernel):
        term = products[:, :, dx : dx + w, :, dx : dx + w]
        across = across.add_(term) if scratch is not None else across + term
    down = across[:, 0:rows, :, 0:h]
    if scratch is not None:
        down = scratch[1][:, :rows].copy_(down)
    for dy in range(1, kernel):
        term = across[:, dy : dy + rows, :, dy : dy + h]
        down = down.add_(term) if scratch is not None else down + term
    return down


def _query_key_products(keys: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """keys [B, C, H', W'] -> products(queries [B, C, rows, W']) -> [B, rows, W', H'·W']: every query vector's dot
    product with every key vector, query-major. Per item, a channels-last 1x1 convolution whose output channels
    are the keys: oneDNN runs it at ~1.5x the float32 throughput of MKL's matrix product (torch.bmm) at the
    warp's shapes (C 256, blocks of 18 x 66 queries, 4356 keys; 2-core AVX-512 EPYC: 205 against 135 GFLOP/s),
    and its channels-last output is the query-major layout itself. A traced graph whose batch is a symbol (an
    export with a dynamic batch) and a batch of several items (the warp takes one at a time) use one batched
    product instead."""
    b, c = keys.shape[:2]
    if not isinstance(b, int) or b != 1:
        flat = keys.flatten(2)
        return lambda q: torch.bmm(q.flatten(2).transpose(1, 2), flat).view(b, q.shape[2], q.shape[3], -1)
    weight = keys.permute(0, 2, 3, 1).reshape(-1, c, 1, 1)  # [H'W', C, 1, 1], one copy for every block
    return lambda q: F.conv2d(q.contiguous(memory_format=torch.channels_last), weight).permute(0, 2, 3, 1)


def patch_score_blocks(theta: torch.Tensor, phi: torch.Tensor, scale: float, kernel: int,
                  chunk: int) -> Iterator[tuple[slice, torch.Tensor]]:
    """(query positions, cos · scale of their patch vectors with every key's [B, rows·w, h·w]), one band of query
    rows after another (the warp's softmax logits; the inspector reads them too); a block may live in a buffer
    the next one overwrites."""
    b, c, h, w = theta.shape
    r = kernel // 2
    d = c * kernel**2
    ops = arithmetic()
    a = theta.mean((1, 2, 3), keepdim=True)
    offset = phi.mean((1, 2, 3), keepdim=True)
    mu, n = patch_moments(theta, kernel)
    nu, m = patch_moments(phi, kernel)
    query_scale = (1.0 / (n + EPS)).unsqueeze(-1)  # [B, hw, 1]
    key_scale = (scale / (m + EPS)).unsqueeze(1)  # [B, 1, hw]
    query_mean = (mu - a.view(b, 1)).unsqueeze(-1)  # [B, hw, 1]
    key_mean = (nu - offset.view(b, 1)).unsqueeze(1)  # [B, 1, hw]
    padded_theta = F.pad(theta, (r, r, r, r)) - a  # the padding holds -a
    products_with_keys = _query_key_products(F.pad(phi, (r, r, r, r)) - offset)
    # (an exported graph with a dynamic batch sizes its blocks for one item: its batch is a symbol)
    rows = min(h, max(1, block_rows(chunk, h * w, b if isinstance(b, int) else 1) // w))
    # inference, eager: the block's sums live in two buffers reused from block to block (a compiled graph plans
    # its own)
    reuse = ops.inplace and not torch.compiler.is_compiling()
    scratch = None
    if reuse:
        scratch = (theta.new_empty(b, rows + 2 * r, w, h + 2 * r, w), theta.new_empty(b, rows, w, h, w))
    for top in range(0, h, rows):
        bottom = min(h, top + rows)
        band = slice(top * w, bottom * w)
        products = products_with_keys(padded_theta[:, :, top : bottom + 2 * r])
        products = products.view(b, bottom - top + 2 * r, w + 2 * r, h + 2 * r, w + 2 * r)
        scores = _shifted_sum(products, kernel, bottom - top, h, w, scratch).view(b, (bottom - top) * w, h * w)
        del products
        scores = (scores.baddbmm_ if reuse else scores.baddbmm)(query_mean[:, band], key_mean, alpha=-d)
        yield band, ops.mul(ops.mul(scores, query_scale[:, band]), key_scale)


def patch_softmax_warp(theta: torch.Tensor, phi: torch.Tensor, values: torch.Tensor, scale: float, kernel: int,
                       chunk: int = 4096) -> torch.Tensor:
    """softmax(cos(x_p, y_q) · scale, over q) · values for the k x k patch vectors x of theta [B,C,h,w] and y of
    phi (centred, L2-normalised, as the correspondence's match vectors), values [B, h·w, E] -> [B, h·w, E]; one
    block of query rows at a time (memory linear in h·w, as the chunked warp)."""
    b = theta.shape[0]
    if isinstance(b, int) and b > 1:  # one item at a time: blocks of full height, each item's products by conv
        return torch.cat([patch_softmax_warp(theta[i : i + 1], phi[i : i + 1], values[i : i + 1], scale, kernel,
                                             chunk) for i in range(b)])
    ops = arithmetic()
    out = theta.new_empty(b, theta.shape[2] * theta.shape[3], values.shape[-1])
    for band, scores in patch_score_blocks(theta, phi, scale, kernel, chunk):
        out[:, band] = torch.matmul(ops.softmax(scores, -1), values)
    return out


def patch_cosines(theta: torch.Tensor, phi: torch.Tensor, kernel: int, chunk: int = 4096) -> torch.Tensor:
    """The cosines `patch_softmax_warp` soft-maxes, whole: [B, h·w, h·w] (tests, small maps)."""
    blocks = [scores.clone() for _, scores in patch_score_blocks(theta, phi, 1.0, kernel, chunk)]
    return torch.cat(blocks, 1)


def patch_cosine_error_bound(theta: torch.Tensor, phi: torch.Tensor, kernel: int) -> torch.Tensor:
    """A first-order bound on |the cosines `patch_softmax_warp` soft-maxes (before `scale`) - the exact ones|,
    [B, h·w, h·w], computed in float64 from the inputs; u = the unit roundoff of theta's dtype, K = C + k² + 4.

    - Σ(x-a)(y-b): the padded maps less their means (one rounding each), C-term products, k² terms summed:
      K·u·|t|·|f|, t and f the patch vectors less a and b (Cauchy-Schwarz bounds Σ|t_i f_i|);
    - D·μ'·ν' (μ' = μ - a): each mean errs by at most K·u·(mean|t| + 2|a|) (its C and k² sums, the subtraction of
      a), and √D·|ν'| ≤ |f|, so the term errs by K·u·(|t| + 2√D·|a|)·|f| + the same with the roles swapped;
    - the norms sum non-negative terms, each errs relatively by K·u / 2 at most; the scaling by both: 3u more.
    Divided by the two norms, plus |cos|·(K + 3)·u for theirs."""
    u = torch.finfo(theta.dtype).eps / 2
    c = theta.shape[1]
    k_factor = c + kernel**2 + 4
    d = c * kernel**2
    theta, phi = theta.double(), phi.double()
    a = theta.mean((1, 2, 3), keepdim=True)
    offset = phi.mean((1, 2, 3), keepdim=True)
    r = kernel // 2

    def unfolded(x: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
        return F.unfold(F.pad(x, (r,) * 4) - mean, kernel)  # [B, D, hw]

    t, f = unfolded(theta, a), unfolded(phi, offset)
    t_norm, f_norm = t.norm(dim=1), f.norm(dim=1)  # [B, hw]
    tc, fc = t - t.mean(1, keepdim=True), f - f.mean(1, keepdim=True)
    n, m = tc.norm(dim=1), fc.norm(dim=1)
    cos = torch.bmm((tc / n.unsqueeze(1)).transpose(1, 2), fc / m.unsqueeze(1))
    root = math.sqrt(d)
    a_abs, b_abs = a.abs().view(-1, 1, 1), offset.abs().view(-1, 1, 1)
    tq, fk = t_norm.unsqueeze(-1), f_norm.unsqueeze(1)
    numerator = k_factor * u * (3 * tq * fk + 2 * root * (a_abs * fk + b_abs * tq))
    return numerator / (n.unsqueeze(-1) * m.unsqueeze(1)) + cos.abs() * (k_factor + 3) * u


__all__ = ["patch_cosine_error_bound", "patch_cosines", "patch_moments", "patch_score_blocks", "patch_softmax_warp"]
