"""--compile: the network compiled by torch.compile (inductor, CPU freezing) gives the eager network's images.

One tiny model is compiled once for the module (compiling takes tens of seconds even for it)."""

from __future__ import annotations

import argparse

import pytest
import torch

from cocosnet.inference import Translator
from cocosnet.inference import compiled as compiled_module
from cocosnet.inference.compiled import CompiledNetwork, CompileUnavailable, check_compile_support
from cocosnet.runtime import RuntimeOptions
from tests.inference.test_backends import assert_agrees


def _inputs(cfg, seed: int = 3):
    g = torch.Generator().manual_seed(seed)
    s = cfg.image_size
    return (torch.randint(0, cfg.label_nc, (1, 1, s, s), generator=g), torch.rand(1, 3, s, s, generator=g) * 2 - 1,
            torch.randint(0, cfg.label_nc, (1, 1, s, s), generator=g))


def _require_compiler() -> None:
    try:
        check_compile_support(torch.device("cpu"))
    except CompileUnavailable as exc:
        pytest.skip(str(exc))  # no C++ compiler on this machine: the error itself is tested below


@pytest.fixture(scope="module")
def pair(tiny_checkpoint, tmp_path_factory):
    """(eager, compiled) Translators of the tiny checkpoint, the compiled one already called once."""
    mp = pytest.MonkeyPatch()
    mp.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path_factory.mktemp("inductor")))
    _require_compiler()
    eager = Translator.from_pretrained(tiny_checkpoint, device="cpu")
    comp = Translator.from_pretrained(tiny_checkpoint, device="cpu", compile=True)
    comp.forward_tensors(*_inputs(comp.cfg))
    yield eager, comp
    mp.undo()


def test_the_compiled_network_gives_the_eager_images(pair):
    # fusion and the pre-packed convolutions reorder float32 sums: the agreement of any other float32 runtime
    # (tests/inference/test_backends.py: the warp within 1e-4, the image within 1e-4 at >= 90 % of the pixels)
    eager, comp = pair
    for seed in (3, 4):
        inputs = _inputs(eager.cfg, seed)
        assert_agrees(comp.forward_tensors(*inputs), eager.forward_tensors(*inputs))


def test_a_second_call_of_the_same_size_does_not_recompile(pair):
    from torch._dynamo.utils import counters

    _, comp = pair
    graphs = counters["stats"]["unique_graphs"]
    comp.forward_tensors(*_inputs(comp.cfg, 5))
    assert counters["stats"]["unique_graphs"] == graphs
    assert len(comp._compiled.shapes) == 1


def test_compile_is_refused_with_an_exported_backend():
    with pytest.raises(ValueError, match="--compile compiles the PyTorch network; --backend openvino"):
        RuntimeOptions(compile=True, backend="openvino")
    with pytest.raises(ValueError, match="compile must be True or False"):
        RuntimeOptions(compile="yes")


def test_no_cpp_compiler_is_a_clear_error(monkeypatch):
    from torch._inductor import cpp_builder

    def no_compiler():
        raise RuntimeError("no compiler")

    monkeypatch.setattr(cpp_builder, "get_cpp_compiler", no_compiler)
    with pytest.raises(CompileUnavailable, match="needs a C\\+\\+ compiler .* install g\\+\\+ or clang\\+\\+"):
        CompiledNetwork(torch.nn.Identity(), torch.device("cpu"))


def test_the_cache_folder_is_the_users_or_cocosnets(monkeypatch, tmp_path):
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert compiled_module.use_cache_dir() == str(tmp_path / "cocosnet" / "inductor")
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", "/somewhere/else")
    assert compiled_module.use_cache_dir() == "/somewhere/else"


@pytest.mark.parametrize("command", ["translate", "serve", "evaluate"])
def test_the_compile_flag_reaches_the_translator(command, tiny_checkpoint, monkeypatch):
    from cocosnet.cli import build_parser
    from cocosnet.commands._common import load_translator

    built = []

    class Recorder:
        def __init__(self, model, device):
            built.append(device.type)

    monkeypatch.setattr(compiled_module, "CompiledNetwork", Recorder)
    extra = {"translate": ["--input", "x.png", "--exemplar", "y.png", "--out", "z.png"], "serve": [],
             "evaluate": ["--data", "landscapes"]}[command]
    args = build_parser(only=command).parse_args([command, "--checkpoint", str(tiny_checkpoint), "--compile", *extra])
    assert isinstance(args, argparse.Namespace) and args.compile
    translator = load_translator(args)
    assert translator.runtime.compile and built == [translator.device.type]


def test_the_compiled_network_keeps_the_winograd_layers(tiny_checkpoint, tmp_path, monkeypatch):
    """--compile --conv-algorithm winograd: the traced graph runs F(4x4, 3x3) (its fresh-tensor form; the kernels'
    transform folded into constants by freezing) and gives the eager direct network's images."""
    from cocosnet.nn import winograd

    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path))
    _require_compiler()
    # the tiny model's layers are below the thresholds: every 3x3 convolution by Winograd
    monkeypatch.setattr(winograd, "MIN_CHANNEL_PAIRS", 1)
    monkeypatch.setattr(winograd, "MIN_OUTPUT_PIXELS", 1)
    traced = []
    real = winograd.winograd_conv2d
    monkeypatch.setattr(winograd, "winograd_conv2d",
                        lambda *a, **k: traced.append(torch.compiler.is_compiling()) or real(*a, **k))
    eager = Translator.from_pretrained(tiny_checkpoint, device="cpu")
    comp = Translator.from_pretrained(tiny_checkpoint, device="cpu", compile=True, conv_algorithm="winograd")
    inputs = _inputs(eager.cfg, 6)
    assert_agrees(comp.forward_tensors(*inputs), eager.forward_tensors(*inputs))
    assert traced and all(traced)  # called while tracing only: the compiled graph runs it


def test_the_compiled_bf16_channels_last_network_stays_within_the_bf16_bound(tiny_checkpoint, tmp_path,
                                                                              monkeypatch):
    """--compile --dtype bfloat16 --channels-last (the fastest bf16 path measured, docs/model.md): one graph over
    the bf16 weights, its images within the bound eager bf16 is held to against float32 (test_fast_path)."""
    from tests.inference.test_fast_path import BF16_MEAN_BOUND

    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path))
    _require_compiler()
    eager = Translator.from_pretrained(tiny_checkpoint, device="cpu")
    comp = Translator.from_pretrained(tiny_checkpoint, device="cpu", compile=True, dtype="bfloat16",
                                      channels_last=True)
    assert {p.dtype for p in comp.model.parameters()} == {torch.bfloat16}
    for seed in (3, 4):
        inputs = _inputs(eager.cfg, seed)
        got, want = comp.forward_tensors(*inputs).image, eager.forward_tensors(*inputs).image
        assert got.shape == want.shape and torch.isfinite(got).all()
        assert float((got.float() - want).abs().mean()) <= BF16_MEAN_BOUND
    assert len(comp._compiled.shapes) == 1  # both seeds ran the one compiled graph


def test_the_compiled_bf16_network_keeps_the_f2_layers(tiny_checkpoint, tmp_path, monkeypatch):
    """--compile --dtype bfloat16 --channels-last --conv-algorithm winograd: the traced graph calls F(2x2, 3x3) as
    one operator (cocosnet::winograd_f2, run as it is, not fused away), its images within the bf16 bound of
    float32 that eager bf16 is held to (test_fast_path)."""
    from cocosnet.nn import winograd
    from tests.inference.test_fast_path import BF16_MEAN_BOUND

    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path))
    _require_compiler()
    for name in ("MIN_CHANNEL_PAIRS", "MIN_BF16_IN_CHANNELS", "MIN_BF16_OUT_CHANNELS"):
        monkeypatch.setattr(winograd, name, 1)  # the tiny model's layers are narrow: every 3x3 one by F(2x2, 3x3)
    traced, ran = [], []
    real, convolve = winograd.winograd_f2_conv2d, winograd._f2_convolve
    monkeypatch.setattr(winograd, "winograd_f2_conv2d",
                        lambda *a, **k: traced.append(torch.compiler.is_compiling()) or real(*a, **k))
    monkeypatch.setattr(winograd, "_f2_convolve", lambda *a: ran.append(1) or convolve(*a))
    comp = Translator.from_pretrained(tiny_checkpoint, device="cpu", compile=True, dtype="bfloat16",
                                      channels_last=True, conv_algorithm="winograd")
    reference = Translator.from_pretrained(tiny_checkpoint, device="cpu")
    inputs = _inputs(comp.cfg, 6)
    comp.forward_tensors(*inputs)  # compiles
    assert traced and all(traced)  # called while tracing only
    ran.clear()
    got = comp.forward_tensors(*inputs).image
    compiled_calls = len(ran)
    eager = Translator.from_pretrained(tiny_checkpoint, device="cpu", dtype="bfloat16", channels_last=True,
                                       conv_algorithm="winograd")
    traced.clear()
    eager.forward_tensors(*inputs)
    assert compiled_calls == len(traced) > 50  # the compiled graph runs the operator once per layer eager runs it
    assert got.dtype == torch.float32 and torch.isfinite(got).all()
    assert float((got - reference.forward_tensors(*inputs).image).abs().mean()) <= BF16_MEAN_BOUND
