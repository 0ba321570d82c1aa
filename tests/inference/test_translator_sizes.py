"""Translator at any aspect ratio: a 192x128 layout gives a 192x128 image, square inputs are unchanged."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from cocosnet.cli import main
from cocosnet.inference import Translator
from cocosnet.inference.preprocess import prepare_exemplar, prepare_semantic
from cocosnet.model import CoCosNet
from cocosnet.presets import get_model_config


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return Translator(CoCosNet(get_model_config("tiny")), device="cpu")


def layout(h: int, w: int) -> np.ndarray:
    lab = np.zeros((h, w), np.uint8)
    lab[: h // 2] = 6
    lab[h // 2 :] = 7
    lab[3 * h // 4 :, : w // 3] = 3
    return lab


def photo(h: int, w: int) -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_a_192x128_layout_gives_a_192x128_image_at_its_own_aspect_ratio(tiny):
    lab, ex = layout(128, 192), photo(128, 192)
    out = tiny.translate(lab, ex, lab, size=128)
    assert out.image.shape == (1, 3, 128, 192) and out.warped.shape == (1, 3, 128, 192)
    # the same numbers as the model run directly on the inputs at 128x192: no squashing, no resize back
    cfg = tiny.cfg
    sem = prepare_semantic(lab, cfg, size=(128, 192))[None]
    direct = tiny.forward_tensors(sem, prepare_exemplar(ex, (128, 192))[None], sem)
    assert torch.equal(out.image, direct.image)
    # the default keeps the aspect ratio with the short side at the preset's 64
    assert tiny.translate(lab, ex, lab).image.shape == (1, 3, 64, 96)
    assert tiny.translate(lab, ex, lab, size=(64, 64)).image.shape == (1, 3, 64, 64)


def test_a_size_off_the_multiples_of_32_is_run_rounded_and_resized_back(tiny):
    lab, ex = layout(100, 150), photo(100, 150)
    out = tiny.translate(lab, ex, lab, size=(100, 150))
    assert out.image.shape == (1, 3, 100, 150)
    sem = prepare_semantic(lab, tiny.cfg, size=(96, 160))[None]
    work = tiny.forward_tensors(sem, prepare_exemplar(ex, (96, 160))[None], sem).image
    expected = F.interpolate(work, size=(100, 150), mode="bicubic", align_corners=False).clamp(-1, 1)
    assert torch.equal(out.image, expected)


def test_square_inputs_give_exactly_the_old_path(tiny):
    lab, ex = layout(80, 80), photo(96, 96)
    out = tiny.translate(lab, ex, lab)
    # the old path: every input squashed to image_size² (prepare_* at the preset's size)
    sem = prepare_semantic(lab, tiny.cfg)[None]
    old = tiny.forward_tensors(sem, prepare_exemplar(ex, 64)[None], sem)
    assert out.image.shape == (1, 3, 64, 64)
    assert torch.equal(out.image, old.image) and torch.equal(out.warped, old.warped)


def test_sizes_the_model_cannot_take_and_mixed_batches_are_refused(tiny):
    lab = layout(128, 192)
    with pytest.raises(ValueError, match="too small"):
        tiny.translate(lab, photo(8, 8), lab, size=(8, 64))
    with pytest.raises(ValueError, match="over the limit"):
        tiny.translate(lab, photo(8, 8), lab, size=(5000, 5000))
    with pytest.raises(ValueError, match="different output sizes"):
        tiny.translate([lab, layout(64, 64)], photo(64, 64), lab)


def test_cli_translate_round_trips_a_non_square_layout(tiny, tmp_path):
    folder = tmp_path / "model"
    tiny.save_pretrained(folder)
    Image.fromarray(layout(128, 192)).save(tmp_path / "label.png")
    Image.fromarray(photo(128, 192)).save(tmp_path / "photo.png")
    args = ["translate", "--checkpoint", str(folder), "--input", str(tmp_path / "label.png"),
            "--exemplar", str(tmp_path / "photo.png"), "--exemplar-label", str(tmp_path / "label.png")]
    assert main([*args, "--out", str(tmp_path / "out.png"), "--size", "128"]) == 0
    assert Image.open(tmp_path / "out.png").size == (192, 128)
    assert main([*args, "--out", str(tmp_path / "out2.png"), "--size", "96x160"]) == 0
    assert Image.open(tmp_path / "out2.png").size == (160, 96)
    assert main([*args, "--out", str(tmp_path / "out3.png"), "--size", "8x64"]) == 2
    assert not (tmp_path / "out3.png").exists()
