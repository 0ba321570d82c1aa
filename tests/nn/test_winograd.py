"""Winograd F(4x4, 3x3) and F(2x2, 3x3) convolution (cocosnet.nn.winograd): the direct convolution's values,
rounding within the bound the arithmetic gives, and only where it is switched on."""

import threading

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cocosnet.nn import winograd
from cocosnet.nn.winograd import (
    WinogradConv2d,
    Workspace,
    transform_kernels_f2,
    transforms,
    use_winograd_,
    winograd_conv2d,
    winograd_error_bound,
    winograd_f2_conv2d,
    winograd_f2_error_bound,
)


def test_one_dimensional_transforms_compute_a_correlation():
    # F(4, 3) in one dimension: y = A^T [(G g) * (B^T d)], y_k = sum_i d_{k+i} g_i; by hand for d = 1..6, g = 1, 2, 3:
    # y_0 = 1 + 4 + 9 = 14, then +6 per step
    bt, g, at = (torch.tensor(m, dtype=torch.float64) for m in (winograd._BT, winograd._G, winograd._AT))
    d, k = torch.arange(1.0, 7.0, dtype=torch.float64), torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    y = at @ ((g @ k) * (bt @ d))
    assert torch.allclose(y, torch.tensor([14.0, 20.0, 26.0, 32.0], dtype=torch.float64), rtol=0, atol=1e-12)


def test_kronecker_transforms_are_the_two_dimensional_ones():
    kb, kg, ka = transforms(torch.float64, torch.device("cpu"))
    assert (kb.shape, kg.shape, ka.shape) == ((36, 36), (36, 9), (16, 36))
    bt = torch.tensor(winograd._BT, dtype=torch.float64)
    d = torch.randn(6, 6, dtype=torch.float64)
    assert torch.allclose((kb @ d.reshape(36)).view(6, 6), bt @ d @ bt.T, rtol=0, atol=1e-12)


@pytest.mark.parametrize("shape,cout,padding", [
    ((1, 5, 7, 9), 6, 0),  # output 5x7: tiles cut at the bottom and right
    ((3, 4, 10, 6), 2, 1),  # a batch, zero padding
    ((2, 3, 3, 3), 4, 0),  # the smallest input: one output pixel
    ((1, 8, 12, 16), 8, 1),  # whole tiles
])
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("kept", [True, False])  # the buffers kept between calls, or fresh ones (a traced graph)
def test_equals_the_direct_convolution_in_float64(shape, cout, padding, with_bias, kept):
    g = torch.Generator().manual_seed(3)
    x = torch.randn(*shape, generator=g, dtype=torch.float64)
    w = torch.randn(cout, shape[1], 3, 3, generator=g, dtype=torch.float64)
    b = torch.randn(cout, generator=g, dtype=torch.float64) if with_bias else None
    want = F.conv2d(x, w, b, padding=padding)
    got = winograd_conv2d(x, w, b, padding, winograd.WORKSPACE if kept else None)
    assert got.shape == want.shape and got.is_contiguous()
    assert (got - want).abs().max().item() <= 1e-12 * want.abs().max().item()


@pytest.mark.parametrize("cin", [16, 256])
def test_float32_rounding_stays_within_the_arithmetic_bound(cin):
    g = torch.Generator().manual_seed(4)
    x = torch.randn(2, cin, 18, 22, generator=g)
    w = torch.randn(24, cin, 3, 3, generator=g) / (9 * cin) ** 0.5
    exact = F.conv2d(x.double(), w.double(), padding=1)
    got = winograd_conv2d(x, w, None, 1)
    bound = winograd_error_bound(x, w, 1)
    err = (got.double() - exact).abs()
    assert (err <= bound).all(), f"max err/bound {(err / bound).max().item():.3g}"


def test_a_wrong_transform_breaks_the_bound(monkeypatch):
    # the bound test above can fail: one perturbed entry of B^T moves the result far outside it
    x, w = torch.randn(1, 16, 10, 10), torch.randn(8, 16, 3, 3)
    bad = list(map(list, winograd._BT))
    bad[1][1] = -3
    monkeypatch.setattr(winograd, "_BT", tuple(map(tuple, bad)))
    got = winograd_conv2d(x, w)
    monkeypatch.undo()
    exact = F.conv2d(x.double(), w.double())
    assert not ((got.double() - exact).abs() <= winograd_error_bound(x, w)).all()


def test_the_workspace_is_reused_and_kept_per_thread():
    ws = Workspace()
    x, w = torch.randn(1, 8, 14, 14), torch.randn(8, 8, 3, 3)
    first = winograd_conv2d(x, w, None, 0, ws)
    pointers = {role: buf.data_ptr() for role, buf in ws.buffers.items()}
    assert set(pointers) == {"tiles", "v", "taps", "kernels", "m", "y"}
    second = winograd_conv2d(x, w, None, 0, ws)
    assert torch.equal(first, second) and first.data_ptr() != second.data_ptr()  # results are never the buffers
    assert {role: buf.data_ptr() for role, buf in ws.buffers.items()} == pointers
    winograd_conv2d(torch.randn(1, 8, 30, 30), w, None, 0, ws)  # a bigger map: its buffers grow
    assert ws.buffers["tiles"].numel() > 36 * 8 * 9
    seen = []
    thread = threading.Thread(target=lambda: seen.append(dict(ws.buffers)))
    thread.start()
    thread.join()
    assert seen == [{}]  # another thread (a --streams stream) has buffers of its own


def _conv(cin, cout, **kw):
    torch.manual_seed(0)
    return nn.Conv2d(cin, cout, 3, **kw).eval()


def test_use_winograd_converts_only_the_convolutions_it_computes():
    model = nn.Sequential(
        _conv(128, 128, padding=1),  # converted
        _conv(128, 128),  # converted (no padding: the caller padded, e.g. ReflectionPad2d)
        _conv(128, 64, padding=1),  # too few channel pairs for the transforms to pay
        _conv(128, 128, stride=2, padding=1),
        _conv(128, 128, padding=1, dilation=2),
        _conv(128, 128, padding=1, padding_mode="reflect"),
        nn.Conv2d(128, 128, 1),
    )
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert use_winograd_(model) == 2
    assert [type(m) is WinogradConv2d for m in model] == [True, True, False, False, False, False, False]
    after = model.state_dict()
    assert after.keys() == before.keys() and all(torch.equal(after[k], before[k]) for k in before)
    assert isinstance(model[0], nn.Conv2d)  # what inspects convolutions still finds them


def test_winograd_conv2d_module_matches_conv2d_and_stays_direct_on_small_maps():
    conv = _conv(128, 128, padding=1)
    reference = _conv(128, 128, padding=1)
    use_winograd_(conv)
    big = torch.randn(1, 128, 32, 32)  # 1024 output pixels: Winograd
    with torch.no_grad():
        got, want = conv(big), reference(big)
        assert not torch.equal(got, want)  # another summation order ran
        bound = winograd_error_bound(big, conv.weight, 1) + torch.finfo(torch.float32).eps * 137 * (
            F.conv2d(big.abs(), conv.weight.abs(), conv.bias.abs(), padding=1))  # ... plus the direct path's own
        assert ((got - want).abs() <= bound).all()
        small = torch.randn(1, 128, 31, 32)  # 992 pixels, below MIN_OUTPUT_PIXELS: oneDNN's direct convolution
        assert torch.equal(conv(small), reference(small))


# F(2x2, 3x3): the bfloat16 networks' Winograd


def test_f2_one_dimensional_transforms_compute_a_correlation():
    # F(2, 3): y = A^T [(G g) * (B^T d)]; by hand for d = 1..4, g = 1, 2, 3: y_0 = 1 + 4 + 9 = 14, y_1 = 2 + 6 + 12
    bt, g, at = (torch.tensor(m, dtype=torch.float64) for m in (winograd._BT2, winograd._G2, winograd._AT2))
    d, k = torch.arange(1.0, 5.0, dtype=torch.float64), torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    assert torch.equal(at @ ((g @ k) * (bt @ d)), torch.tensor([14.0, 20.0], dtype=torch.float64))


@pytest.mark.parametrize("shape,cout,padding", [
    ((1, 5, 7, 9), 6, 0),  # output 5x7: odd sides, a zero row and column added and cropped
    ((3, 4, 10, 6), 2, 1),  # a batch, zero padding
    ((2, 3, 3, 3), 4, 0),  # the smallest input: one output pixel
])
@pytest.mark.parametrize("with_bias", [True, False])
def test_f2_equals_the_direct_convolution_in_float64(shape, cout, padding, with_bias):
    g = torch.Generator().manual_seed(5)
    x = torch.randn(*shape, generator=g, dtype=torch.float64)
    w = torch.randn(cout, shape[1], 3, 3, generator=g, dtype=torch.float64)
    b = torch.randn(cout, generator=g, dtype=torch.float64) if with_bias else None
    want = F.conv2d(x, w, b, padding=padding)
    got = winograd_f2_conv2d(x, w, b, padding)
    assert got.shape == want.shape and got.is_contiguous(memory_format=torch.channels_last)
    assert (got - want).abs().max().item() <= 1e-12 * want.abs().max().item()


def _bf16_case(cin: int, cout: int, side: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, cin, side, side, generator=g).bfloat16().contiguous(memory_format=torch.channels_last)
    w = (torch.randn(cout, cin, 3, 3, generator=g) / (9 * cin) ** 0.5).bfloat16()
    return x, w, torch.randn(cout, generator=g).bfloat16()


@pytest.mark.parametrize("cin,cout,side", [(16, 8, 9), (256, 24, 18)])
def test_f2_bfloat16_rounding_stays_within_the_arithmetic_bound(cin, cout, side):
    x, w, b = _bf16_case(cin, cout, side, 6)
    exact = F.conv2d(x.double(), w.double(), b.double(), padding=1)
    got = winograd_f2_conv2d(x, w, b, 1)
    assert got.dtype == torch.bfloat16
    err = (got.double() - exact).abs()
    bound = winograd_f2_error_bound(x, w, b, 1)
    assert (err <= bound).all(), f"max err/bound {(err / bound).max().item():.3g}"


def test_a_wrong_f2_transform_breaks_the_bound(monkeypatch):
    x, w, b = _bf16_case(16, 8, 10, 7)
    bad = list(map(list, winograd._BT2))
    bad[1][2] = -1  # the second row of B^T takes d1 - d2 instead of d1 + d2
    monkeypatch.setattr(winograd, "_BT2", tuple(map(tuple, bad)))
    got = winograd_f2_conv2d(x, w, b, 1)
    monkeypatch.undo()
    exact = F.conv2d(x.double(), w.double(), b.double(), padding=1)
    assert not ((got.double() - exact).abs() <= winograd_f2_error_bound(x, w, b, 1)).all()


def test_f2_kernels_are_g_g_gt_per_tile_position():
    w = torch.randn(3, 2, 3, 3, dtype=torch.float64)
    g = torch.tensor(winograd._G2, dtype=torch.float64)
    u = transform_kernels_f2(w)  # [16, Cin, Cout]
    assert u.shape == (16, 2, 3)
    assert torch.allclose(u.view(4, 4, 2, 3)[:, :, 1, 2], g @ w[2, 1] @ g.T, rtol=0, atol=1e-12)


def test_bfloat16_weights_run_f2_only_on_the_wide_layers(monkeypatch):
    calls = []
    real = winograd.winograd_f2_conv2d
    monkeypatch.setattr(winograd, "winograd_f2_conv2d", lambda *a, **k: calls.append(a[1].shape) or real(*a, **k))
    cin, cout = winograd.MIN_BF16_IN_CHANNELS, winograd.MIN_BF16_OUT_CHANNELS
    wide, narrow_in, narrow_out = (_conv(i, o, padding=1).bfloat16() for i, o in (
        (cin, cout), (cin // 2, cout), (cin, cout // 2)))
    use_winograd_(nn.Sequential(wide, narrow_in, narrow_out))
    x = torch.randn(1, cin, 8, 8).bfloat16()
    with torch.no_grad():
        got = wide(x)
        assert calls == [wide.weight.shape] and got.dtype == torch.bfloat16
        exact = F.conv2d(x.double(), wide.weight.double(), wide.bias.double(), padding=1)
        assert ((got.double() - exact).abs() <= winograd_f2_error_bound(x, wide.weight, wide.bias, 1)).all()
        assert wide(x.float()).dtype == torch.bfloat16  # autocast's float32 input: cast as oneDNN would
        for conv in (narrow_in, narrow_out):  # below the thresholds: oneDNN's direct convolution
            y = torch.randn(1, conv.in_channels, 8, 8).bfloat16()
            assert torch.equal(conv(y), F.conv2d(y, conv.weight, conv.bias, padding=1))
    assert len(calls) == 2


def test_the_kept_f2_kernels_follow_the_weight():
    conv = _conv(winograd.MIN_BF16_IN_CHANNELS, winograd.MIN_BF16_OUT_CHANNELS, padding=1).bfloat16()
    use_winograd_(conv)
    x = torch.randn(1, conv.in_channels, 6, 6).bfloat16()
    with torch.no_grad():
        first = conv(x)
        kept = conv.__dict__["_f2_kept"][1]
        assert torch.equal(conv(x), first) and conv.__dict__["_f2_kept"][1] is kept  # the second call reuses them
        conv.weight.mul_(-1)  # an in-place change of the weight: the kernels are made again
        again = conv(x)
        assert conv.__dict__["_f2_kept"][1] is not kept and not torch.equal(again, first)
        assert torch.equal(again, winograd_f2_conv2d(x, conv.weight, conv.bias, 1))


def test_flop_counter_counts_the_f2_products_it_runs():
    from torch.utils.flop_counter import FlopCounterMode

    x, w = torch.randn(1, 4, 6, 6).bfloat16(), torch.randn(2, 4, 3, 3).bfloat16()
    kernels = transform_kernels_f2(w)  # kept by the layer: not per call
    with FlopCounterMode(display=False) as counter:
        winograd_f2_conv2d(x, w, None, 1, kernels)
    # padded 8x8: 3x3 tiles; per tile 2·(16·16·4 input transform + 16·4·2 products + 4·17·2 output) = 2576
    assert counter.get_total_flops() == 9 * 2576
