"""The bundled landscapes model: what `cocosnet demo`, `translate` and `serve` use when no checkpoint is given."""

import json

import pytest
import torch
from PIL import Image
from safetensors import safe_open

from cocosnet.cli import main
from cocosnet.data.io import save_image
from cocosnet.data.landscapes_dataset import LandscapesDataset
from cocosnet.evaluation.baselines import baseline_mean_colour
from cocosnet.evaluation.metrics.answer_key import per_class_delta_e
from cocosnet.evaluation.metrics.swd import compute_swd
from cocosnet.inference import Translator
from cocosnet.inference.default_model import DEFAULT_DIR, default_checkpoint


def test_bundled_model_is_fp16_safetensors_under_40_mb_with_its_training_command():
    folder = default_checkpoint()
    weights = folder / "model.safetensors"
    assert weights.stat().st_size <= 40 * 2**20
    with safe_open(str(weights), framework="pt") as f:
        dtypes = {f.get_slice(k).get_dtype() for k in f.keys()}
    assert dtypes == {"F16"}
    config = json.loads((folder / "config.json").read_text())
    assert config["model"]["name"] == "landscapes"
    assert config["training"]["command"].startswith("cocosnet train --preset landscapes --data landscapes")


@pytest.fixture(scope="module")
def test_pairs():
    data = LandscapesDataset("test", size=128, length=1000)
    samples = [data[i] for i in range(6)]
    stack = lambda key: torch.stack([s[key] for s in samples])  # noqa: E731
    return {k: stack(k) for k in ("label", "exemplar", "exemplar_label", "oracle")}


def test_bundled_model_beats_its_warp_and_the_baselines_on_six_test_pairs(test_pairs):
    """Per-class colour ΔE to the answer key: the warp moves each class's colours onto the layout, so it must beat
    the exemplar copied as it is (a correspondence network with random weights scores ~35 here, pasting ~19), and
    the output must beat its own warp and the per-class mean colour (measured: output 11.8, warp 13.0, mean colour
    13.0, paste 18.8). SWD: the output has texture, the mean colour none (measured 93 vs 305)."""
    translator = Translator.from_pretrained(DEFAULT_DIR, device="cpu")
    assert translator.cfg.warp == "patch" and translator.cfg.temperature == 0.0005  # as docs/bundled_model.md says
    result = translator.translate(test_pairs["label"], test_pairs["exemplar"], test_pairs["exemplar_label"])
    assert result.image.shape == result.warped.shape == (6, 3, 128, 128)
    label, oracle = test_pairs["label"], test_pairs["oracle"]

    def delta_e(images):
        errors, present = per_class_delta_e(images, oracle, label)
        return errors[present].mean().item()

    mean_colour = baseline_mean_colour(label, test_pairs["exemplar"], test_pairs["exemplar_label"])
    output, warped = delta_e(result.image.float()), delta_e(result.warped.float())
    assert output < warped < delta_e(test_pairs["exemplar"])
    assert output < delta_e(mean_colour)
    assert compute_swd(oracle, result.image.float())["swd_avg"] < 0.5 * compute_swd(oracle, mean_colour)["swd_avg"]


def test_translate_without_a_checkpoint_uses_the_bundled_model(test_pairs, tmp_path):
    layout, exemplar, ex_label = tmp_path / "layout.png", tmp_path / "photo.png", tmp_path / "photo_label.png"
    save_image(layout, test_pairs["label"][0, 0].numpy().astype("uint8"))
    save_image(exemplar, test_pairs["exemplar"][0])
    save_image(ex_label, test_pairs["exemplar_label"][0, 0].numpy().astype("uint8"))
    out = tmp_path / "out.png"
    args = ["translate", "--input", str(layout), "--exemplar", str(exemplar), "--exemplar-label", str(ex_label),
            "--out", str(out), "--device", "cpu"]
    assert main(args) == 0
    assert Image.open(out).size == (128, 128)


def test_the_bundled_model_runs_at_another_resolution_when_asked(test_pairs):
    translator = Translator.from_pretrained(DEFAULT_DIR, device="cpu", image_size=64)
    assert translator.cfg.image_size == 64
    result = translator.translate(test_pairs["label"][0], test_pairs["exemplar"][0], test_pairs["exemplar_label"][0])
    assert result.image.shape == (1, 3, 64, 64)  # inputs resized (labels nearest) to the asked size
    with pytest.raises(ValueError, match="multiple of 32"):
        Translator.from_pretrained(DEFAULT_DIR, device="cpu", image_size=100)
