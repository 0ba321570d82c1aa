"""Generator: the lean conditioning with class ids, the full-resolution stage in row bands, both modes equal."""

import math

import pytest
import torch
import torch.nn.functional as F

from cocosnet.generator import Generator
from cocosnet.model import encode_semantic
from cocosnet.presets import get_model_config
from cocosnet.runtime import RuntimeOptions

from .helpers.grad_modes import assert_same_in_both_modes


def _inputs(cfg, n: int = 2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor | None]:
    """cond = cat(warped exemplar, semantics) at the config's size, and the class ids behind a one-hot semantics."""
    g = torch.Generator().manual_seed(seed)
    size = cfg.image_size
    if cfg.label_nc:
        ids = torch.randint(0, cfg.label_nc, (n, size, size), generator=g)
        semantic = encode_semantic(ids[:, None], cfg)
    else:
        ids, semantic = None, torch.rand(n, cfg.semantic_nc, size, size, generator=g)
    return torch.cat([torch.rand(n, 3, size, size, generator=g) * 2 - 1, semantic], 1), ids


def test_an_image_in_tanh_range_from_the_conditioning():
    cfg = get_model_config("tiny")
    torch.manual_seed(0)
    cond, ids = _inputs(cfg)
    with torch.no_grad():
        image = Generator(cfg).eval()(cond, ids)
    assert image.shape == (2, 3, 64, 64)
    assert image.abs().max() <= 1 and image.std() > 0


def test_generator_takes_the_warped_exemplar_alone_with_class_ids():
    """Inference passes SPADE the warped exemplar only (the one-hot part comes from the ids) and the first layer's
    conditioning at 1/32: the same image as the full conditioning; without ids it is refused."""
    cfg = get_model_config("tiny")
    gen = Generator(cfg).eval()
    torch.manual_seed(0)
    ids = torch.randint(0, cfg.label_nc, (2, 64, 64))
    warped = torch.rand(2, 3, 64, 64) * 2 - 1
    cond = torch.cat([warped, encode_semantic(ids[:, None], cfg)], 1)
    with torch.inference_mode():
        full = gen(cond, ids)
        small = F.interpolate(cond, size=(2, 2), mode="nearest")
        lean = gen(warped, ids, fc_cond=small)
        assert torch.allclose(lean, full, atol=1e-6)
        with pytest.raises(ValueError, match="needs label_ids"):
            gen(warped, None, fc_cond=small)


@pytest.mark.parametrize("preset", ["tiny", "deepfashion"])
def test_generator_is_the_same_in_both_modes(preset):
    """With class ids (one-hot lookups; the lean conditioning too) and with dense semantics, in one piece."""
    cfg = get_model_config(preset, ngf=2, spade_hidden=4)
    torch.manual_seed(0)
    gen = Generator(cfg, RuntimeOptions(band_rows=0)).eval()
    cond, ids = _inputs(cfg)
    if ids is None:
        assert_same_in_both_modes(gen, cond)
    else:
        assert_same_in_both_modes(gen, cond, ids)
        small = F.interpolate(cond, size=(2, 2), mode="nearest")
        assert_same_in_both_modes(lambda w, s: gen(w, ids, fc_cond=s), cond[:, :3], small)


@pytest.mark.parametrize("preset,rows", [("tiny", 16), ("tiny", 21), ("deepfashion", 32)])
def test_generator_full_resolution_stage_in_row_bands_equals_the_whole_image(preset, rows, monkeypatch):
    """Inference runs the last block + conv_img in bands of rows with a halo: the same image as one pass, with
    class ids (one-hot lookups, reflection padding at the image edge) and with dense semantics."""
    cfg = get_model_config(preset, image_size=128, ngf=2, spade_hidden=4)
    torch.manual_seed(0)
    gen = Generator(cfg, RuntimeOptions(band_rows=rows)).eval()
    whole = Generator(cfg, RuntimeOptions(band_rows=0)).eval()
    whole.load_state_dict(gen.state_dict())
    cond, ids = _inputs(cfg)
    calls = []
    monkeypatch.setattr(gen, "_last_stage", lambda x, c, i: calls.append(x.shape[-2]) or
                        Generator._last_stage(gen, x, c, i))
    with torch.inference_mode():
        banded, reference = gen(cond, ids), whole(cond, ids)
    assert len(calls) == math.ceil(128 / (rows + rows % 2)) and max(calls) < 128
    assert banded.shape == reference.shape == (2, 3, 128, 128)
    assert torch.allclose(banded, reference, atol=1e-6), (banded - reference).abs().max()


@pytest.mark.parametrize("preset", ["tiny", "deepfashion"])
def test_banded_inference_equals_the_recorded_whole_image(preset, monkeypatch):
    """While autograd records, the stage runs in one piece (a backward would keep every band anyway); without a
    graph, in bands. The two agree within 1e-6: each output pixel is the same sum of products, but convolving a
    band instead of the whole map may change the blocking, hence the summation order, of the 3x3 convolutions'
    sums (~100 terms of |x| <= ~10 here, float32 rounding ~1e-7 relative) before a tanh whose slope is <= 1."""
    cfg = get_model_config(preset, image_size=128, ngf=2, spade_hidden=4)
    torch.manual_seed(0)
    gen = Generator(cfg, RuntimeOptions(band_rows=32)).eval()
    banded = []
    monkeypatch.setattr(gen, "_last_stage_in_bands", lambda *a: banded.append(1) or
                        Generator._last_stage_in_bands(gen, *a))
    cond, ids = _inputs(cfg)
    assert_same_in_both_modes(gen, *((cond,) if ids is None else (cond, ids)), atol=1e-6)
    assert len(banded) == 2  # no_grad and inference_mode banded; the recorded pass did not
