"""Winograd F(4x4, 3x3) convolution: the 3x3 convolutions of inference with 4x fewer multiplications.

PyTorch's CPU convolutions (oneDNN) compute a 3x3 convolution directly: 9 multiply-adds per input channel and
output pixel. Winograd's minimal filtering (Lavin & Gray, "Fast
Algorithms for Convolutional Neural Networks", CVPR 2016) computes each 4x4 output tile from a 6x6 input tile with
36 products per channel pair instead of 144: the input tiles and the kernels are transformed (B^T d B, G g G^T), the
36 transformed positions become 36 matrix products over the channels, and the products are transformed back
(A^T m A). On this project's AVX2 EPYC a 512->512 convolution at 64x64 runs 2.5x faster than oneDNN's.

It is exact arithmetic rearranged, not an approximation: in float64 it equals the direct convolution to rounding.
In float32 the transforms add rounding: the error bound `winograd_error_bound` states follows from the
arithmetic (tests/nn/test_winograd.py); an ADE20k 256² image moves ~2e-5 from the direct path's, inside the 1e-4
the official vectors allow. The kernels are transformed on every call, into a buffer kept for the next (`Workspace`):
holding them transformed would be a second copy of the model at 4x the 3x3 weights' size. The convolutions with
few channels or small maps stay direct, where the transforms' passes over memory cost more than the products they
save (the thresholds below, measured on that EPYC: 128->64 at 76x256 breaks even, 128->128 runs 1.6x faster).

bfloat16 networks use F(2x2, 3x3) instead (`winograd_f2_conv2d`): 16 products per channel pair for a 2x2 tile
instead of 36, so 2.25x fewer multiplications, and transforms whose entries are 0, ±1 and ±1/2. F(4x4, 3x3)'s
entries up to 8 multiply bf16's rounding of the transformed tiles and of the products (its error measured 9x the
direct bf16 convolution's); F(2x2, 3x3)'s stay within 3x. Its three steps are matrix products in bf16 with
float32 sums, each rounded once: the input transform, the 16 channel products, the output transform with the bias
as one more term (`winograd_f2_error_bound`). On the AVX-512 EPYC it runs a 512->512 layer at 64x64 in 0.6x the
direct time, 1024->1024 at 8x8 in 0.4x, and pays from 128 input and 256 output channels on (`MIN_BF16_IN_CHANNELS`,
`MIN_BF16_OUT_CHANNELS`); 128->128 at 128x128 runs 1.1x the direct time, so stays direct.
"""

from __future__ import annotations

import functools
import threading

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import register_flop_formula

TILE = 4  # output tile side, m in F(m x m, 3 x 3)
SPAN = TILE + 2  # input tile side (tiles overlap by the kernel's 2-pixel reach)

# the transforms of F(4, 3) with the interpolation points 0, 1, -1, 2, -2 and infinity (Lavin & Gray, section 4)
_BT = ((4, 0, -5, 0, 1, 0), (0, -4, -4, 1, 1, 0), (0, 4, -4, -1, 1, 0), (0, -2, -1, 2, 1, 0), (0, 2, -1, -2, 1, 0),
       (0, 4, 0, -5, 0, 1))
_G = ((1 / 4, 0, 0), (-1 / 6, -1 / 6, -1 / 6), (-1 / 6, 1 / 6, -1 / 6), (1 / 24, 1 / 12, 1 / 6),
      (1 / 24, -1 / 12, 1 / 6), (0, 0, 1))
_AT = ((1, 1, 1, 1, 1, 0), (0, 1, -1, 2, -2, 0), (0, 1, 1, 4, 4, 0), (0, 1, -1, 8, -8, 1))

# which 3x3 convolutions run it (WinogradConv2d): at least this many channel pairs (in x out) ...
MIN_CHANNEL_PAIRS = 128 * 128
# ... and at least this many output pixels per call (over the batch); below, the kernels' transform is not amortised
MIN_OUTPUT_PIXELS = 1024
# bfloat16 (F(2x2, 3x3)): at least this many input and output channels, on maps of any size (measured on the
# AVX-512 EPYC: 128->256 at 64x64 0.85x the direct time, 256->128 0.93x, 128->128 at 128x128 1.1x; ADE20k 256²
# compiled: 0.84x the direct network with these, 0.88x with 256 on both sides)
MIN_BF16_IN_CHANNELS = 128
MIN_BF16_OUT_CHANNELS = 256

# F(2, 3) with the interpolation points 0, 1, -1 and infinity
_BT2 = ((1, 0, -1, 0), (0, 1, 1, 0), (0, -1, 1, 0), (0, 1, 0, -1))
_G2 = ((1, 0, 0), (1 / 2, 1 / 2, 1 / 2), (1 / 2, -1 / 2, 1 / 2), (0, 0, 1))
_AT2 = ((1, 1, 1, 0), (0, 1, -1, -1))


def _kronecker(bt=_BT, g=_G, at=_AT) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return tuple(torch.kron(m, m) for m in (torch.tensor(t, dtype=torch.float64) for t in (bt, g, at)))


@functools.lru_cache(maxsize=8)
def _cached(dtype: torch.dtype, device: torch.device, key: tuple) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return tuple(t.to(dtype=dtype, device=device) for t in _kronecker(*key))


def transforms(dtype: torch.dtype, device: torch.device,
               f2: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(B, G, A) as Kronecker products acting on a flattened tile: input [36, 36], kernel [36, 9], output [16, 36];
    f2: F(2x2, 3x3)'s, [16, 16], [16, 9], [4, 16]."""
    key = (_BT2, _G2, _AT2) if f2 else (_BT, _G, _AT)
    if torch.compiler.is_compiling():  # traced: built in the graph (constants), not looked up in a Python cache
        return tuple(t.to(dtype=dtype, device=device) for t in _kronecker(*key))
    return _cached(dtype, device, key)


class Workspace(threading.local):
    """The transforms' intermediate tensors, kept from one call to the next (one set per thread).

    They are tens of MB each (a 512->512 layer at 64x64: 38 MB of transformed kernels), and a freed block that size
    goes back to the system at once under inference's malloc settings (cocosnet.memory): allocating them afresh
    would fault in every page again on each call, which costs as much as a third of the convolution."""

    def __init__(self) -> None:
        self.buffers: dict[str, torch.Tensor] = {}

    def take(self, role: str, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        """An uninitialised tensor of `shape` (dtype and device of `like`) in the buffer kept for `role`."""
        numel = 1
        for size in shape:
            numel *= size
        buf = self.buffers.get(role)
        stale = buf is not None and buf.is_inference() and not torch.is_inference_mode_enabled()  # not writable here
        if buf is None or stale or buf.numel() < numel or buf.dtype != like.dtype or buf.device != like.device:
            self.buffers.pop(role, None)  # the old buffer is freed before the bigger one is made
            buf = self.buffers[role] = torch.empty(numel, dtype=like.dtype, device=like.device)
        return buf[:numel].view(shape)

    def clear(self) -> None:
        self.buffers.clear()


WORKSPACE = Workspace()


def transform_kernels(weight: torch.Tensor, workspace: Workspace | None = None,
                      g: torch.Tensor | None = None) -> torch.Tensor:
    """[Cout, Cin, 3, 3] -> G g G^T at the 36 tile positions, [36, Cout, Cin] (g: G's Kronecker form, default
    `transforms`')."""
    if g is None:
        _, g, _ = transforms(weight.dtype, weight.device)
    cout, cin = weight.shape[:2]
    if workspace is None:
        return (g @ weight.permute(2, 3, 0, 1).reshape(9, cout * cin)).view(SPAN * SPAN, cout, cin)
    taps = workspace.take("taps", (3, 3, cout, cin), weight).copy_(weight.permute(2, 3, 0, 1))
    out = workspace.take("kernels", (SPAN * SPAN, cout * cin), weight)
    return torch.mm(g, taps.view(9, cout * cin), out=out).view(SPAN * SPAN, cout, cin)


def winograd_conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                    padding: int = 0, workspace: Workspace | None = WORKSPACE,
                    matrices: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """F.conv2d(x, weight, bias, padding=padding) for a 3x3 kernel, stride 1, by F(4x4, 3x3); x: [N, C, H, W].
    workspace: where the intermediate tensors live (None: fresh ones). matrices: other (B, G, A) Kronecker forms than
    `transforms`' (the error bound runs the same computation on their absolute values)."""
    if weight.shape[-2:] != (3, 3):
        raise ValueError(f"Winograd F(4x4, 3x3) takes 3x3 kernels, got {tuple(weight.shape[-2:])}")
    if padding:
        x = F.pad(x, (padding,) * 4)
    n, cin, hp, wp = x.shape
    h, w = hp - 2, wp - 2
    if h < 1 or w < 1:
        raise ValueError(f"a 3x3 convolution needs an input of at least 3x3, got {hp}x{wp} (padding included)")
    rows, cols = -(-h // TILE), -(-w // TILE)
    if rows * TILE != h or cols * TILE != w:  # whole tiles: zeros below and to the right, cropped off the output
        x = F.pad(x, (0, cols * TILE + 2 - wp, 0, rows * TILE + 2 - hp))
    kb, g, ka = matrices or transforms(x.dtype, x.device)
    cout, p = weight.shape[0], rows * cols
    # tile position (i, j) first, so one matrix product transforms every tile of every channel
    windows = x.unfold(2, SPAN, TILE).unfold(3, SPAN, TILE).permute(4, 5, 0, 1, 2, 3)
    traced = torch.compiler.is_compiling()  # inductor plans the buffers of a compiled graph itself
    if workspace is None or traced:
        v = (kb @ windows.reshape(SPAN * SPAN, -1)).view(SPAN * SPAN, n, cin, p)
        m = torch.matmul(transform_kernels(weight, g=g).unsqueeze(1), v)  # [36, N, Cout, tiles]
        y = ka @ m.reshape(SPAN * SPAN, -1)
    else:
        tiles = workspace.take("tiles", (SPAN, SPAN, n, cin, rows, cols), x).copy_(windows)
        v = torch.mm(kb, tiles.view(SPAN * SPAN, -1), out=workspace.take("v", (SPAN * SPAN, n * cin * p), x))
        v = v.view(SPAN * SPAN, n, cin, p)
        u = transform_kernels(weight, workspace, g)
        m = workspace.take("m", (SPAN * SPAN, n, cout, p), x)  # [36, N, Cout, tiles]
        for i in range(n):
            torch.bmm(u, v[:, i], out=m[:, i])
        y = torch.mm(ka, m.view(SPAN * SPAN, -1), out=workspace.take("y", (TILE * TILE, n * cout * p), x))
    y = y.view(TILE, TILE, n, cout, rows, cols)
    y = y.permute(2, 3, 4, 0, 5, 1).reshape(n, cout, rows * TILE, cols * TILE)[:, :, :h, :w]
    if bias is None:
        return y.contiguous()
    if traced:
        return y + bias.view(1, -1, 1, 1)
    out = torch.empty((n, cout, h, w), dtype=y.dtype, device=y.device)
    return torch.add(y, bias.view(1, -1, 1, 1), out=out)  # the bias in the pass that lays the tiles out


def winograd_error_bound(x: torch.Tensor, weight: torch.Tensor, padding: int = 0) -> torch.Tensor:
    """A first-order bound on |winograd_conv2d(x, weight) in x's dtype - the exact convolution|, per output.

    Each stage is a sum of products (input transform: 36 terms, kernel transform: 9, the channel product: Cin,
    output transform: 36), and a sum of n rounded products errs by at most n·u·Σ|terms| (u: the unit roundoff);
    carried through the stages that is (36 + 9 + Cin + 36 + 2)·u times the same computation on absolute values
    (the 2: rounding of the transforms' entries 1/6, 1/12, 1/24). Computed in float64."""
    u = torch.finfo(x.dtype).eps / 2
    absolute = tuple(t.abs() for t in transforms(torch.float64, x.device))
    y = winograd_conv2d(x.abs().double(), weight.abs().double(), None, padding, None, absolute)
    return (36 + 9 + x.shape[1] + 36 + 2) * u * y


def transform_kernels_f2(weight: torch.Tensor, g: torch.Tensor | None = None) -> torch.Tensor:
    """[Cout, Cin, 3, 3] -> G g G^T of F(2x2, 3x3) at the 16 tile positions, [16, Cin, Cout], computed in float32
    (float64 for float64 weights) and rounded once to the weight's dtype (g: G's Kronecker form, default
    `transforms`'). A compiled graph folds it into a constant (freezing); eagerly `WinogradConv2d` keeps them from
    its first call."""
    compute = torch.promote_types(weight.dtype, torch.float32)
    if g is None:
        _, g, _ = transforms(compute, weight.device, f2=True)
    cout, cin = weight.shape[:2]
    taps = weight.permute(2, 3, 1, 0).reshape(9, cin * cout).to(compute)
    return (g @ taps).view(16, cin, cout).to(weight.dtype)


def _f2_convolve(x: torch.Tensor, kernels: torch.Tensor, bias: torch.Tensor | None,
                 matrices: tuple[torch.Tensor, ...] | None = None) -> torch.Tensor:
    """F(2x2, 3x3) of an already padded x [N, C, 2R+2, 2S+2] with `transform_kernels_f2`'s kernels -> [N, Cout, 2R,
    2S], channels-last. matrices: other (B, G, A) Kronecker forms than `transforms`' (the error bound's absolute
    values); the entries of F(2x2, 3x3)'s B and A (0, ±1) are exact in every dtype.

    Three matrix products in x's dtype, each summing in float32 (bf16 ones do) and rounding once: the input
    transform B^T d B of every tile, the 16 channel products, and the output transform A^T m A with the bias as a
    17th term (one rounding of the result, as a direct convolution's). One copy lays the tiles out; the rest are
    the products' own passes (a pass per transform step in float32 cost a third of the call at 512 channels)."""
    n, cin, hp, wp = x.shape
    rows, cols = (hp - 2) // 2, (wp - 2) // 2
    cout = kernels.shape[-1]
    bt, _, at = matrices or transforms(x.dtype, x.device, f2=True)
    at = torch.cat((at, at.new_ones(4, 1)), dim=1)  # [4, 17]: the bias as one more term of the output sum
    count = n * rows * cols
    # [16, N·R·S·C]: tile position first, channels innermost; a view of channels-last x, copied once
    windows = x.permute(0, 2, 3, 1).unfold(1, 4, 2).unfold(2, 4, 2).permute(4, 5, 0, 1, 2, 3)
    tiles = WORKSPACE.take("f2 tiles", (4, 4, n, rows, cols, cin), x).copy_(windows)
    v = torch.mm(bt, tiles.view(16, -1), out=WORKSPACE.take("f2 v", (16, count * cin), x)).view(16, count, cin)
    m = WORKSPACE.take("f2 m", (17, count, cout), x)
    torch.bmm(v, kernels, out=m[:16])
    if bias is None:
        m[16].zero_()
    else:
        m[16].copy_(bias.expand(count, cout))
    y = torch.mm(at, m.view(17, -1), out=WORKSPACE.take("f2 y", (4, count * cout), x))
    y = y.view(2, 2, n, rows, cols, cout)
    out = torch.empty((n, rows, 2, cols, 2, cout), dtype=x.dtype, device=x.device)
    out.copy_(y.permute(2, 3, 0, 4, 1, 5))
    return out.view(n, 2 * rows, 2 * cols, cout).permute(0, 3, 1, 2)


@torch.library.custom_op("cocosnet::winograd_f2", mutates_args=())
def _f2_op(x: torch.Tensor, kernels: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """`_f2_convolve` as one operator: a compiled graph calls it as it is (inductor's fusion of its strided passes
    into the neighbouring kernels ran 1.2x slower than the direct convolutions), its kernels folded to constants."""
    return _f2_convolve(x, kernels, bias).contiguous(memory_format=torch.channels_last)


@_f2_op.register_fake
def _(x: torch.Tensor, kernels: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    n, _, hp, wp = x.shape
    return x.new_empty((n, kernels.shape[-1], hp - 2, wp - 2)).contiguous(memory_format=torch.channels_last)


@register_flop_formula(torch.ops.cocosnet.winograd_f2)
def _f2_flops(x_shape, kernels_shape, _bias_shape, out_shape=None, **kwargs) -> int:
    """The multiply-adds `_f2_convolve` runs (FlopCounterMode, benchmarks/inference.py): the input transform
    [16, 16] over every tile and channel, the 16 channel products, the output transform [4, 17]."""
    n, cin, hp, wp = x_shape
    tiles = n * ((hp - 2) // 2) * ((wp - 2) // 2)
    cout = kernels_shape[-1]
    return 2 * tiles * (16 * 16 * cin + 16 * cin * cout + 4 * 17 * cout)


def winograd_f2_conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                       padding: int = 0, kernels: torch.Tensor | None = None) -> torch.Tensor:
    """F.conv2d(x, weight, bias, padding=padding) for a 3x3 kernel, stride 1, by F(2x2, 3x3); x [N, C, H, W] in
    the weight's dtype (bfloat16 in inference; float64 equals the direct convolution to rounding). kernels: the
    weight's `transform_kernels_f2`, when the caller keeps them. Channels-last output."""
    return _f2_conv2d(x, weight, bias, padding, kernels)


def _f2_conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, padding: int,
               kernels: torch.Tensor | None, matrices: tuple[torch.Tensor, ...] | None = None) -> torch.Tensor:
    """`winograd_f2_conv2d`; matrices: other (B, G, A) than `transforms`' (the error bound runs the same computation
    on their absolute values, outside the operator)."""
    if weight.shape[-2:] != (3, 3):
        raise ValueError(f"Winograd F(2x2, 3x3) takes 3x3 kernels, got {tuple(weight.shape[-2:])}")
    if padding:
        x = F.pad(x, (padding,) * 4)
    hp, wp = x.shape[-2:]
    h, w = hp - 2, wp - 2
    if h < 1 or w < 1:
        raise ValueError(f"a 3x3 convolution needs an input of at least 3x3, got {hp}x{wp} (padding included)")
    if h % 2 or w % 2:  # whole tiles: a zero row / column below and to the right, cropped off the output
        x = F.pad(x, (0, w % 2, 0, h % 2))
    if kernels is None:
        kernels = transform_kernels_f2(weight, None if matrices is None else matrices[1])
    y = _f2_op(x, kernels, bias) if matrices is None else _f2_convolve(x, kernels, bias, matrices)
    return y if (h, w) == tuple(y.shape[-2:]) else y[:, :, :h, :w].contiguous(memory_format=torch.channels_last)


def winograd_f2_error_bound(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                            padding: int = 0) -> torch.Tensor:
    """A first-order bound on |winograd_f2_conv2d(x, weight, bias) in bfloat16 - the exact convolution of the same
    bfloat16 tensors|, per output.

    Roundings to bf16 (unit roundoff u_b): the transformed tiles, the transformed kernels, each channel product
    after its float32 sum (Cin terms, u_32 each), the result. The first three and the float32 sums are relative
    errors of the terms of Σ|A^T||V||U||A| + |bias| (the same computation on absolute values), the last of the
    result: (3·u_b + (Cin + 34)·u_32)·Σ|...| + u_b·|exact| (the 34: the transforms' float32 sums, 4 terms each way
    for the tiles, 9 for the kernels, 17 for the output with its bias). Computed in float64."""
    ub, u32 = torch.finfo(torch.bfloat16).eps / 2, torch.finfo(torch.float32).eps / 2
    absolute = tuple(t.abs() for t in transforms(torch.float64, x.device, f2=True))
    b = None if bias is None else bias.double()
    y = _f2_conv2d(x.abs().double(), weight.abs().double(), None if b is None else b.abs(), padding, None,
                   absolute)
    exact = F.conv2d(x.double(), weight.double(), b, padding=padding).abs()
    return (3 * ub + (x.shape[1] + 34) * u32) * y + ub * exact


class WinogradConv2d(nn.Conv2d):
    """A 3x3, stride-1 Conv2d that convolves by Winograd where that pays: float32 by F(4x4, 3x3) from
    MIN_OUTPUT_PIXELS output pixels on, bfloat16 weights by F(2x2, 3x3) from MIN_BF16_IN_CHANNELS input and
    MIN_BF16_OUT_CHANNELS output channels on; same parameters and state dict as the Conv2d it was made from
    (`use_winograd_`)."""

    def _conv_forward(self, input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        if weight.dtype == torch.bfloat16:  # autocast hands a float32 input to bf16 weights: cast as it would
            if self.in_channels < MIN_BF16_IN_CHANNELS or self.out_channels < MIN_BF16_OUT_CHANNELS:
                return super()._conv_forward(input, weight, bias)
            return winograd_f2_conv2d(input.to(weight.dtype), weight, bias, self.padding[0],
                                      self._f2_kernels(weight))
        out_pixels = input.shape[0] * (input.shape[-2] + 2 * self.padding[0] - 2) * (
            input.shape[-1] + 2 * self.padding[1] - 2)
        if out_pixels < MIN_OUTPUT_PIXELS or input.dtype != weight.dtype:
            return super()._conv_forward(input, weight, bias)
        return winograd_conv2d(input, weight, bias, self.padding[0])

    def _f2_kernels(self, weight: torch.Tensor) -> torch.Tensor:
        """The weight's F(2x2, 3x3) kernels: traced, computed in the graph (freezing folds them into a constant);
        eagerly, kept from the first call (16/9 of the layer's weights: transforming them on every call cost more
        than the products saved), made again if the weight changes."""
        if torch.compiler.is_compiling():
            return transform_kernels_f2(weight)
        key = (weight.data_ptr(), weight._version, weight.dtype, weight.device, weight.shape)
        kept = self.__dict__.get("_f2_kept")
        if kept is None or kept[0] != key:
            kept = self.__dict__["_f2_kept"] = (key, transform_kernels_f2(weight))
        return kept[1]


def winograd_eligible(conv: nn.Module) -> bool:
    """A plain Conv2d with a 3x3 kernel, stride 1, no dilation or groups, zero (or no) padding, and at least
    MIN_CHANNEL_PAIRS input x output channels."""
    return (type(conv) is nn.Conv2d and conv.kernel_size == (3, 3) and conv.stride == (1, 1)
            and conv.dilation == (1, 1) and conv.groups == 1 and conv.padding in ((0, 0), (1, 1))
            and conv.padding_mode == "zeros" and conv.in_channels * conv.out_channels >= MIN_CHANNEL_PAIRS)


def use_winograd_(model: nn.Module) -> int:
    """Turn every eligible Conv2d of `model` into a WinogradConv2d in place (weights untouched); returns how many.

    The same thresholds serve a compiled model: with its kernels' transform folded into constants by freezing,
    lower ones (128 x 64 channels, 256 pixels) measured no faster on ADE20k 256² (4.49 vs 4.38 s) and held 0.5 GB
    more constants."""
    count = 0
    for module in model.modules():
        if winograd_eligible(module):
            module.__class__ = WinogradConv2d
            count += 1
    return count


__all__ = ["MIN_BF16_IN_CHANNELS", "MIN_BF16_OUT_CHANNELS", "MIN_CHANNEL_PAIRS", "MIN_OUTPUT_PIXELS", "WORKSPACE",
           "WinogradConv2d", "Workspace", "transform_kernels", "transform_kernels_f2", "transforms", "use_winograd_",
           "winograd_conv2d", "winograd_eligible", "winograd_error_bound", "winograd_f2_conv2d",
           "winograd_f2_error_bound"]
