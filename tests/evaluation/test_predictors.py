"""Predictors: a bare module and a Translator agree, the baselines by name, and their errors."""

import pytest
import torch

from cocosnet.data import build_dataset
from cocosnet.evaluation import baseline_predictor, evaluate
from cocosnet.evaluation.baselines import rerender_answer_key
from cocosnet.inference import Translator

from .conftest import SIZE, direct_answer_key, landscapes_pairs

pytestmark = pytest.mark.usefixtures("one_thread")


def test_bare_module_and_translator_give_the_same_numbers(tiny_checkpoint):
    translator = Translator.from_pretrained(tiny_checkpoint, device="cpu")
    ds = build_dataset("landscapes", split="test", size=SIZE, length=4)
    via_translator = evaluate(translator, ds, progress=False)
    via_module = evaluate(translator.model, ds, progress=False)  # what a training loop would pass
    for name in ("output", "warped"):
        assert via_module[name]["delta_e"] == pytest.approx(via_translator[name]["delta_e"], rel=1e-6)
        assert via_module[name]["swd_avg"] == pytest.approx(via_translator[name]["swd_avg"], rel=1e-6)


def test_mean_colour_baseline_refuses_dense_inputs():
    dense = {"label": torch.rand(1, 15, 8, 8), "exemplar": torch.zeros(1, 3, 8, 8),
             "exemplar_label": torch.rand(1, 15, 8, 8)}
    with pytest.raises(ValueError, match="needs class-id label maps"):
        baseline_predictor("mean_colour")(dense)
    assert torch.equal(baseline_predictor("paste")(dense)["output"], dense["exemplar"])
    with pytest.raises(ValueError, match="unknown baseline 'median'"):
        baseline_predictor("median")


def test_rerender_baseline_is_the_answer_key_with_new_noise_and_scores_below_paste():
    """`rerender` paints each answer key's scene again (seed offset 0: the answer key to the bit) with other
    texture noise: the same colours per class (small ΔE), not the same pixels, and at 64² a lower SWD against
    the answer key than the pasted exemplar (a perfect model's score: what SWD can reach)."""
    batch = landscapes_pairs(8)
    for scene, oracle in zip(batch["oracle_scene"], batch["oracle"], strict=True):
        assert torch.equal(rerender_answer_key(scene, SIZE, seed_offset=0), oracle)
    again = baseline_predictor("rerender")(batch)["output"]
    assert again.shape == batch["oracle"].shape
    assert not torch.equal(again, batch["oracle"])
    delta_e, swd = direct_answer_key(again, batch)
    paste_delta_e, paste_swd = direct_answer_key(batch["exemplar"], batch)
    assert delta_e < 5.0 < paste_delta_e
    assert swd["swd_avg"] < paste_swd["swd_avg"]
    with pytest.raises(ValueError, match="needs the landscapes val or test split"):
        baseline_predictor("rerender")({"label": batch["label"], "exemplar": batch["exemplar"]})
