"""The inference layouts (channels-last, weights cast once to bf16) against the default float32 path.

Bounds. Channels-last changes only the order of the sums inside a convolution: float32 sums of K terms reordered
differ by at most ~K·2^-24 relative to the sum of |terms| per layer, ~1e-6 on these outputs in [-1,1] after a few
dozen layers; we allow the official-vector tolerance, 1e-4, which is also what the official vectors must meet.
bfloat16 keeps 8 significant bits (rounding 2^-9 ≈ 2e-3 relative per value); through ~30 layers of PONO-normalised
activations that is a few 1e-2 relative, so the mean |difference| of images in [-1,1] is bounded by 0.03. The
maximum is not bounded usefully on a random tiny model (ngf 2): a softmax at temperature 0.01 may pick another
exemplar pixel for a position (the full-width official shapes measure max 0.04-0.06, like OpenVINO's bf16).
"""

import json
import platform

import pytest
import torch

from cocosnet.inference import Translator
from cocosnet.inference.fast_path import prepare_for_inference_, weight_conversion
from cocosnet.memory import MappedFilePages
from cocosnet.model import CoCosNet
from cocosnet.nn.spectral import fold_spectral_norm_
from cocosnet.presets import get_model_config
from cocosnet.runtime import RuntimeOptions
from tests.inference.test_backends import assert_agrees

BF16_MEAN_BOUND = 0.03


@pytest.fixture(scope="module")
def tiny_inputs():
    g = torch.Generator().manual_seed(3)
    cfg = get_model_config("tiny")
    s = cfg.image_size
    return (torch.randint(0, cfg.label_nc, (2, 1, s, s), generator=g), torch.rand(2, 3, s, s, generator=g) * 2 - 1,
            torch.randint(0, cfg.label_nc, (2, 1, s, s), generator=g))


def _translators(tiny_checkpoint, **options):
    return Translator.from_pretrained(tiny_checkpoint, device="cpu"), Translator.from_pretrained(
        tiny_checkpoint, device="cpu", **options)


def test_channels_last_matches_nchw_on_a_tiny_model(tiny_checkpoint, tiny_inputs):
    base, fast = _translators(tiny_checkpoint, channels_last=True)
    conv = fast.model.generator.up_3.conv_0
    assert conv.weight.is_contiguous(memory_format=torch.channels_last) and not conv.weight.is_contiguous()
    # a reordered float32 sum: the bounds of any float32 runtime (test_backends.assert_agrees: the warp within 1e-4
    # everywhere, the image at >= 90 % of its pixels; the tiny preset's 2-channel PONO flips near ties, which on an
    # AVX2 CPU reached 5.2e-4 at a few pixels)
    assert_agrees(fast.forward_tensors(*tiny_inputs), base.forward_tensors(*tiny_inputs))


def test_bf16_weights_are_cast_once_and_stay_within_the_bound(tiny_checkpoint, tiny_inputs):
    base, fast = _translators(tiny_checkpoint, dtype="bfloat16", channels_last=True)
    assert {p.dtype for p in fast.model.parameters()} == {torch.bfloat16}
    autocast_only = Translator.from_pretrained(tiny_checkpoint, device="cpu", dtype="bfloat16", cast_weights=False)
    assert {p.dtype for p in autocast_only.model.parameters()} == {torch.float32}
    ref = base.forward_tensors(*tiny_inputs).image
    for tr in (fast, autocast_only):
        out = tr.forward_tensors(*tiny_inputs).image
        assert out.dtype == torch.float32 and torch.isfinite(out).all()
        err = (out - ref).abs().mean().item()
        assert 0 < err <= BF16_MEAN_BOUND  # > 0: the half-precision path really ran
    with pytest.raises(ValueError, match="bfloat16 weights"):
        fast.save_pretrained(tiny_checkpoint.parent / "never_written")
    assert not (tiny_checkpoint.parent / "never_written").exists()


def test_weights_converted_one_by_one_equal_module_to():
    """The per-tensor conversion (folded weights converted as they are folded) gives `Module.to`'s tensors."""
    torch.manual_seed(0)
    reference = CoCosNet(get_model_config("tiny")).eval()
    model = CoCosNet(get_model_config("tiny")).eval()
    model.load_state_dict(reference.state_dict())
    fold_spectral_norm_(reference)
    reference.to(torch.bfloat16).to(memory_format=torch.channels_last)
    runtime = RuntimeOptions(dtype="bfloat16", channels_last=True)
    convert = weight_conversion(runtime)
    fold_spectral_norm_(model, convert.replace)
    assert prepare_for_inference_(model, convert) is True
    expected, got = reference.state_dict(), model.state_dict()
    assert got.keys() == expected.keys()
    for key, tensor in expected.items():
        assert got[key].dtype == tensor.dtype and torch.equal(got[key], tensor), key
        assert got[key].stride() == tensor.stride(), key
    assert weight_conversion(RuntimeOptions()) is None
    assert weight_conversion(RuntimeOptions(dtype="bfloat16", cast_weights=False)) is None


def test_a_cast_translator_hands_the_checkpoints_float32_pages_back(tiny_checkpoint, monkeypatch):
    """Each memory-mapped float32 weight's pages are released as soon as its bf16 copy exists, so the file is
    never resident whole beside the copies (ADE20k 256²: the load's peak 898 -> 533 MiB, docs/model.md)."""
    released = []
    real = MappedFilePages.release
    monkeypatch.setattr(MappedFilePages, "release", lambda self, t: released.append(real(self, t)) or released[-1])
    tr = Translator.from_pretrained(tiny_checkpoint, device="cpu", dtype="bfloat16")
    spanning = [t for t in tr.model.state_dict().values() if t.is_floating_point() and t.numel() * 4 >= 8192]
    # every weight spanning two pages holds at least one whole page; smaller ones may lie across a page boundary
    if platform.system() == "Linux":
        assert sum(released) >= len(spanning) > 50
    assert len(released) == sum(t.is_floating_point() for t in tr.model.state_dict().values())


def test_channels_last_meets_the_official_vectors(official_dir, recipe):
    """The fast float32 layout keeps the official tolerance (ADE20k, 128², the one-hot lookup path)."""
    cfg = get_model_config("ade20k", image_size=128)
    model = CoCosNet(cfg).eval().requires_grad_(False)
    model.generator.load_state_dict(recipe(json.loads((official_dir / "ade20k_netG.json").read_text()), 11))
    model.correspondence.load_state_dict(recipe(json.loads((official_dir / "ade20k_netCorr.json").read_text()), 11))
    fold_spectral_norm_(model)
    assert prepare_for_inference_(model, weight_conversion(RuntimeOptions(channels_last=True))) is False
    inputs = torch.load(official_dir / "vectors" / "ade20k" / "inputs.pt", weights_only=True)
    expected = torch.load(official_dir / "vectors" / "ade20k" / "expected.pt", weights_only=True)
    with torch.inference_mode():
        out = model(model.encode(inputs["label"]), inputs["ref"].contiguous(memory_format=torch.channels_last),
                    model.encode(inputs["label_ref"]), label_ids=inputs["label"][:, 0].long())
    assert (out.image - expected["fake_image"]).abs().max().item() <= 1e-4
    assert (out.warped - expected["warp_out"]).abs().max().item() <= 1e-4


@pytest.mark.parametrize("field", ["channels_last", "cast_weights", "low_memory"])
def test_layout_switches_must_be_booleans(field):
    with pytest.raises(ValueError, match=f"{field} must be True or False, got 'yes'"):
        RuntimeOptions(**{field: "yes"})
