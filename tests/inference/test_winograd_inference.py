"""--conv-algorithm winograd in inference: the Translator converts its convolutions, the flag reaches it, and the
option refuses what it does not run; bfloat16 networks by F(2x2, 3x3)."""

import argparse

import pytest
import torch

from cocosnet.commands._common import add_model_arguments, load_translator
from cocosnet.inference import Translator
from cocosnet.nn import winograd
from cocosnet.nn.winograd import WinogradConv2d
from cocosnet.presets import get_model_config
from cocosnet.runtime import RuntimeOptions
from tests.inference.test_backends import assert_agrees
from tests.inference.test_compile import _inputs


@pytest.fixture()
def every_conv_pays(monkeypatch):
    """The tiny preset's maps and channels are below the thresholds that make Winograd pay: drop them."""
    monkeypatch.setattr(winograd, "MIN_CHANNEL_PAIRS", 1)
    monkeypatch.setattr(winograd, "MIN_OUTPUT_PIXELS", 1)
    calls = []
    real = winograd.winograd_conv2d
    monkeypatch.setattr(winograd, "winograd_conv2d", lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


def test_the_translator_runs_its_convolutions_by_winograd(tiny_checkpoint, every_conv_pays):
    direct = Translator.from_pretrained(tiny_checkpoint, device="cpu")
    wino = Translator.from_pretrained(tiny_checkpoint, device="cpu", conv_algorithm="winograd")
    converted = [m for m in wino.model.modules() if isinstance(m, WinogradConv2d)]
    assert converted and not any(isinstance(m, WinogradConv2d) for m in direct.model.modules())
    ran = []
    for m in converted:
        m.register_forward_hook(lambda *_: ran.append(1))
    inputs = _inputs(get_model_config("tiny"), 6)
    a, b = direct.forward_tensors(*inputs), wino.forward_tensors(*inputs)
    # every converted layer that ran, ran by Winograd (SPADE's first convolution over a one-hot map is a lookup)
    assert len(every_conv_pays) == len(ran) > 50
    # a reordered float32 sum: the bounds of any float32 runtime (test_backends.assert_agrees; on this random
    # 2-channel model PONO amplifies rounding near ties: 9.6e-4 at the worst pixel with every layer by Winograd;
    # the full-width networks keep the official vectors within 1e-4, test_official_vectors)
    assert_agrees(b, a)
    assert wino.model.state_dict().keys() == direct.model.state_dict().keys()


def test_the_flag_reaches_the_runtime(tiny_checkpoint):
    p = argparse.ArgumentParser()
    add_model_arguments(p)
    args = p.parse_args(["--checkpoint", str(tiny_checkpoint), "--device", "cpu", "--conv-algorithm", "winograd"])
    assert load_translator(args).runtime.conv_algorithm == "winograd"
    assert p.parse_args(["--checkpoint", str(tiny_checkpoint)]).conv_algorithm == "direct"


@pytest.mark.parametrize("options,named", [
    ({"dtype": "float16"}, "--dtype float16"),
    ({"channels_last": True}, "--channels-last with float32"),
    ({"backend": "openvino"}, "--backend openvino"),
])
def test_winograd_refuses_what_it_does_not_run(options, named):
    with pytest.raises(ValueError, match=f"winograd runs the PyTorch network, float32 NCHW or bfloat16; it does not "
                                         f"combine with {named}$"):
        RuntimeOptions(conv_algorithm="winograd", **options)


@pytest.mark.parametrize("channels_last", [False, True])
def test_winograd_takes_bfloat16_in_either_layout(channels_last):
    options = RuntimeOptions(conv_algorithm="winograd", dtype="bfloat16", channels_last=channels_last)
    assert (options.conv_algorithm, options.dtype, options.channels_last) == ("winograd", "bfloat16", channels_last)


def test_the_bfloat16_translator_runs_its_wide_convolutions_by_f2(tiny_checkpoint, monkeypatch):
    """--dtype bfloat16 --conv-algorithm winograd: the layers F(2x2, 3x3) takes run by it, each call within the
    bound its arithmetic gives (winograd_f2_error_bound, against the exact convolution of the same bf16 tensors)."""
    import torch.nn.functional as F

    monkeypatch.setattr(winograd, "MIN_CHANNEL_PAIRS", 1)  # the tiny preset's layers are narrow: take them all
    monkeypatch.setattr(winograd, "MIN_BF16_IN_CHANNELS", 1)
    monkeypatch.setattr(winograd, "MIN_BF16_OUT_CHANNELS", 1)
    outside = []
    real = winograd.winograd_f2_conv2d

    def checked(x, weight, bias=None, padding=0, kernels=None):
        y = real(x, weight, bias, padding, kernels)
        exact = F.conv2d(x.double(), weight.double(), None if bias is None else bias.double(), padding=padding)
        outside.append(int(((y.double() - exact).abs() > winograd.winograd_f2_error_bound(x, weight, bias,
                                                                                         padding)).sum()))
        return y

    monkeypatch.setattr(winograd, "winograd_f2_conv2d", checked)
    direct = Translator.from_pretrained(tiny_checkpoint, device="cpu", dtype="bfloat16", channels_last=True)
    wino = Translator.from_pretrained(tiny_checkpoint, device="cpu", dtype="bfloat16", channels_last=True,
                                      conv_algorithm="winograd")
    inputs = _inputs(get_model_config("tiny"), 6)
    got = wino.forward_tensors(*inputs).image
    assert len(outside) > 50 and not any(outside)
    assert got.dtype == torch.float32 and torch.isfinite(got).all()
    assert not torch.equal(got, direct.forward_tensors(*inputs).image)  # another arithmetic ran
