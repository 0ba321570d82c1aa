"""Our networks with the official keys reproduce the official implementation's tensors (reference vectors)."""

import json
from pathlib import Path

import pytest
import torch

from cocosnet.model import CoCosNet
from cocosnet.presets import get_model_config
from cocosnet.runtime import RuntimeOptions

CASES = [
    # folder, preset, resolution used by the reference run
    ("ade20k", "ade20k", 128),
    ("celebahqedge", "celebahq_edge", 128),
    ("deepfashion", "deepfashion", 256),
]
INTERMEDIATES = ["warp_out_lowres", "adaptive_feature_seg", "adaptive_feature_img", "cont_features",
                 "ref_features", "theta", "phi", "warp_mask"]


def _load(official_dir, recipe, folder, preset, size, runtime=None):
    cfg = get_model_config(preset, image_size=size)
    model = CoCosNet(cfg, runtime).eval()
    g = recipe(json.loads((official_dir / f"{folder}_netG.json").read_text()), 11)
    c = recipe(json.loads((official_dir / f"{folder}_netCorr.json").read_text()), 11)
    model.generator.load_state_dict(g, strict=True)
    model.correspondence.load_state_dict(c, strict=True)
    return model


def _vectors(official_dir, folder):
    return (torch.load(official_dir / "vectors" / folder / "inputs.pt", weights_only=True),
            torch.load(official_dir / "vectors" / folder / "expected.pt", weights_only=True))


def _assert_matches(out, expected):
    got = {"fake_image": out.image, "warp_out": out.warped}
    got.update({k: getattr(out.correspondence, k) for k in INTERMEDIATES})
    assert set(expected) <= set(got)
    for key, want in expected.items():
        assert got[key].shape == want.shape, key
        # images and warps (|x| <= 1) within 1e-4; features (|x| up to ~10) within 2e-4
        tol = 1e-4 if key in ("fake_image", "warp_out", "warp_out_lowres", "warp_mask") else 2e-4
        err = (got[key].detach() - want).abs().max().item()
        assert err <= tol, f"{key}: max |diff| {err:.3g} > {tol}"


@pytest.mark.parametrize("folder,preset,size", CASES)
@pytest.mark.parametrize("warp_impl", ["auto", "dense"])
def test_matches_official_outputs(official_dir, recipe, folder, preset, size, warp_impl):
    model = _load(official_dir, recipe, folder, preset, size, RuntimeOptions(warp_impl=warp_impl))
    inputs, expected = _vectors(official_dir, folder)
    with torch.inference_mode():
        ids = inputs["label"][:, 0].long() if model.cfg.label_nc else None  # the one-hot lookup path
        out = model(model.encode(inputs["label"]), inputs["ref"], model.encode(inputs["label_ref"]),
                    return_intermediates=True, label_ids=ids if warp_impl == "auto" else None)
    _assert_matches(out, expected)


def test_recorded_training_path_matches_official_outputs(official_dir, recipe):
    """What a training forward runs: autograd recording (no in-place arithmetic), the encoded map, the chunked
    warp; the same thresholds as the inference path above."""
    model = _load(official_dir, recipe, "ade20k", "ade20k", 128)
    inputs, expected = _vectors(official_dir, "ade20k")
    with torch.enable_grad():
        out = model(model.encode(inputs["label"]), inputs["ref"], model.encode(inputs["label_ref"]),
                    return_intermediates=True)
    assert out.image.requires_grad and out.image.grad_fn is not None
    _assert_matches(out, expected)


def test_translator_path_matches_official_image(official_dir, recipe):
    """run_model (what Translator uses): class ids only, the one-hot map dropped after the correspondence, the
    exemplar's labels resized before encoding, in-place inference arithmetic — still the official image."""
    from cocosnet.inference import run_model

    model = _load(official_dir, recipe, "ade20k", "ade20k", 128)
    inputs, expected = _vectors(official_dir, "ade20k")
    with torch.inference_mode():
        out = run_model(model, inputs["label"], inputs["ref"], inputs["label_ref"])
    for key, got in (("fake_image", out.image), ("warp_out", out.warped)):
        err = (got - expected[key]).abs().max().item()
        assert err <= 1e-4, f"{key}: max |diff| {err:.3g} > 1e-4"


@pytest.mark.parametrize("folder,preset", [("ade20k", "ade20k"), ("celebahqedge", "celebahq_edge")])
def test_winograd_translator_matches_official_image(official_dir, recipe, folder, preset, monkeypatch):
    """--conv-algorithm winograd (F(4x4, 3x3) in the big 3x3 convolutions: the 32² maps of a 128² run and above)
    keeps the official image and warp within the float32 paths' 1e-4."""
    from cocosnet.inference import Translator
    from cocosnet.nn import winograd

    model = _load(official_dir, recipe, folder, preset, 128)
    inputs, expected = _vectors(official_dir, folder)
    tr = Translator(model, device="cpu", conv_algorithm="winograd")
    calls = []
    real = winograd.winograd_conv2d
    monkeypatch.setattr(winograd, "winograd_conv2d", lambda *a, **k: calls.append(1) or real(*a, **k))
    ids = (lambda t: t.long()) if model.cfg.label_nc else (lambda t: t)
    out = tr.forward_tensors(ids(inputs["label"]), inputs["ref"], ids(inputs["label_ref"]))
    assert len(calls) >= 10  # the correspondence's blocks and the generator's middle ran by Winograd
    for key, got in (("fake_image", out.image), ("warp_out", out.warped)):
        err = (got - expected[key]).abs().max().item()
        assert err <= 1e-4, f"{key}: max |diff| {err:.3g} > 1e-4"


NONSQUARE = Path(__file__).parent / "fixtures" / "official_nonsquare" / "expected.pt"


def _widened_celebahqedge_inputs(official_dir):
    """The shared 128² inputs widened to 128x192 as scripts/official_vectors_nonsquare.py made the fixture."""
    inputs, _ = _vectors(official_dir, "celebahqedge")
    return {k: torch.cat([v, v[..., :64]], -1) for k, v in inputs.items()}


@pytest.mark.parametrize("warp_impl", ["auto", "dense"])
def test_matches_official_outputs_at_a_non_square_size(official_dir, recipe, warp_impl):
    """128x192 (the official code run with aspect_ratio 1.5, tests/fixtures/official_nonsquare/README.md)."""
    model = _load(official_dir, recipe, "celebahqedge", "celebahq_edge", 128, RuntimeOptions(warp_impl=warp_impl))
    inputs = _widened_celebahqedge_inputs(official_dir)
    expected = torch.load(NONSQUARE, weights_only=True)
    with torch.inference_mode():
        out = model(model.encode(inputs["label"]), inputs["ref"], model.encode(inputs["label_ref"]))
    assert out.image.shape == (1, 3, 128, 192)
    _assert_matches(out, expected)


def test_translator_at_a_non_square_size_matches_official_image(official_dir, recipe):
    """The Translator keeps a 128x192 input's size (no square resize) and gives the official image."""
    from cocosnet.inference import Translator

    model = _load(official_dir, recipe, "celebahqedge", "celebahq_edge", 128)
    inputs = _widened_celebahqedge_inputs(official_dir)
    expected = torch.load(NONSQUARE, weights_only=True)
    out = Translator(model, device="cpu").translate(inputs["label"][0], inputs["ref"][0], inputs["label_ref"][0])
    assert out.image.shape == (1, 3, 128, 192)
    err = (out.image - expected["fake_image"]).abs().max().item()
    assert err <= 1e-4, f"max |diff| {err:.3g}"
