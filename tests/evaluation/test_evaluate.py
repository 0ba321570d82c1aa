"""`cocosnet evaluate` and `cocosnet.evaluation`: a tiny model and the baselines over a few landscapes test pairs
at 64x64, the real-data metrics on a small folder data set, --compare, and the errors."""

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from cocosnet.cli import main
from cocosnet.data import build_dataset
from cocosnet.data.landscapes import FAMILIES
from cocosnet.evaluation import baseline_predictor, evaluate
from cocosnet.evaluation.baselines import baseline_mean_colour, rerender_answer_key
from cocosnet.evaluation.metrics.answer_key import AnswerKeyMetrics, per_class_delta_e
from cocosnet.evaluation.metrics.fid import InceptionFeatures, encode_roundtrip
from cocosnet.evaluation.report import _fmt
from cocosnet.inference import Translator
from cocosnet.presets import LANDSCAPE_COLORS

SIZE, NUM = 64, 6
CELL = SIZE + 2  # the report grid's padding is 2


@pytest.fixture(autouse=True)
def one_thread():
    """These tensors are tiny: on the shared 2-core machine, two OpenMP threads waiting on each other made
    one evaluation of 4 pairs take 16 s instead of 0.4 s with one thread (measured under load ~3.5)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def landscapes_pairs(num=NUM):
    ds = build_dataset("landscapes", split="test", size=SIZE, length=num)
    return torch.utils.data.default_collate([ds[i] for i in range(num)])


def finite_numbers(row):
    return all(math.isfinite(v) for v in row.values() if isinstance(v, (int, float)))


def test_checkpoint_end_to_end_on_landscapes(tmp_path, tiny_checkpoint, capsys):
    out = tmp_path / "eval"
    rc = main(["evaluate", "--checkpoint", str(tiny_checkpoint), "--data", "landscapes", "--num", str(NUM),
               "--batch-size", "4", "--image-size", str(SIZE), "--device", "cpu", "--out", str(out),
               "--no-progress"])
    assert rc == 0
    assert "output: delta_e" in capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    families = sorted(set(landscapes_pairs()["style_family"]))
    assert set(families) <= set(FAMILIES)
    expected = ["run", "output", *(f"output@{f}" for f in families), "warped", *(f"warped@{f}" for f in families)]
    assert list(results) == expected
    assert results["run"]["samples"] == NUM and results["run"]["metrics"] == "answer_key"
    assert results["run"]["source"] == f"checkpoint:{tiny_checkpoint}"
    for name in ("output", "warped"):
        row = results[name]
        assert row["samples"] == NUM
        assert {"delta_e", "swd_avg", "swd_64", "swd_32", "swd_16"} <= set(row)
        assert any(k.startswith("delta_e_class_") for k in row)
        assert finite_numbers(row) and row["delta_e"] > 0 and row["swd_avg"] > 0
        assert sum(results[f"{name}@{f}"]["samples"] for f in families) == NUM
    # A random model and its warped exemplar give different images: the two rows are really two sets.
    assert results["output"]["delta_e"] != results["warped"]["delta_e"]
    md = (out / "results.md").read_text()
    assert "| run | value |" in md and f"| output | {NUM} | {_fmt(results['output']['delta_e'])} |" in md
    with Image.open(out / "grid.png") as grid:
        assert grid.size == (5 * CELL + 2, NUM * CELL + 2)  # 5 columns, one row per sample (fewer than 8)
    assert not list(out.glob(".*.tmp"))


def test_bare_module_and_translator_give_the_same_numbers(tiny_checkpoint):
    translator = Translator.from_pretrained(tiny_checkpoint, device="cpu")
    ds = build_dataset("landscapes", split="test", size=SIZE, length=4)
    via_translator = evaluate(translator, ds, progress=False)
    via_module = evaluate(translator.model, ds, progress=False)  # what a training loop would pass
    for name in ("output", "warped"):
        assert via_module[name]["delta_e"] == pytest.approx(via_translator[name]["delta_e"], rel=1e-6)
        assert via_module[name]["swd_avg"] == pytest.approx(via_translator[name]["swd_avg"], rel=1e-6)


def direct_answer_key(images, batch):
    """Mean over samples of the per-sample mean over present classes, computed here from per_class_delta_e;
    SWD from AnswerKeyMetrics on the same pairs."""
    errors, present = per_class_delta_e(images, batch["oracle"], batch["label"])
    per_sample = (errors * present).sum(1) / present.sum(1)
    metrics = AnswerKeyMetrics(swd_seed=0)
    metrics.update(images, batch["oracle"], batch["label"], batch["style_family"])
    return float(per_sample.mean()), metrics.compute()["output"]


def test_baselines_match_direct_computation_and_compare(tmp_path, capsys):
    batch = landscapes_pairs()
    expected = {
        "paste": direct_answer_key(batch["exemplar"], batch),
        # the evaluator measures what would be saved: the 8-bit PNG of the painted means
        "mean_colour": direct_answer_key(
            encode_roundtrip(baseline_mean_colour(batch["label"], batch["exemplar"], batch["exemplar_label"])),
            batch),
    }
    for name, (delta_e, key_row) in expected.items():
        rc = main(["evaluate", "--baseline", name, "--data", "landscapes", "--num", str(NUM), "--image-size",
                   str(SIZE), "--out", str(tmp_path / name), "--no-progress"])
        assert rc == 0
        results = json.loads((tmp_path / name / "results.json").read_text())
        assert results["run"]["source"] == f"baseline:{name}"
        assert "warped" not in results
        assert results["output"]["delta_e"] == pytest.approx(delta_e, rel=1e-5)
        assert results["output"]["swd_avg"] == pytest.approx(key_row["swd_avg"], rel=1e-5)
        with Image.open(tmp_path / name / "grid.png") as grid:
            assert grid.size == (5 * CELL + 2, NUM * CELL + 2)
            pixels = np.asarray(grid.convert("RGB"))
        # the input column shows the layout in the painter's class colours; the warped column is blank
        for row in range(NUM):
            top = 2 + row * CELL
            ids = batch["label"][row, 0].numpy()
            assert (pixels[top : top + SIZE, 2 : 2 + SIZE] == np.asarray(LANDSCAPE_COLORS)[ids]).all()
            assert (pixels[top : top + SIZE, 2 + 2 * CELL : 2 + 2 * CELL + SIZE] == 255).all()
    assert expected["paste"][0] != pytest.approx(expected["mean_colour"][0])
    capsys.readouterr()
    assert main(["evaluate", "--compare", str(tmp_path / "paste" / "results.json"), str(tmp_path / "mean_colour")]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0] == "| metric | paste | mean_colour | mean_colour − paste |"
    row = next(line for line in table.splitlines() if line.startswith("| output/delta_e |"))
    paste, mean = json.loads((tmp_path / "paste" / "results.json").read_text()), json.loads(
        (tmp_path / "mean_colour" / "results.json").read_text())
    assert row == (f"| output/delta_e | {_fmt(paste['output']['delta_e'])} | {_fmt(mean['output']['delta_e'])} | "
                   f"{_fmt(mean['output']['delta_e'] - paste['output']['delta_e'])} |")


def test_ground_truth_as_output_scores_perfectly_on_real_data_metrics():
    """Output = ground truth: FID ~ 0, SWD exactly 0 (shared patch positions), semantic consistency 1."""
    # a stand-in feature network: the mean colour of each image quarter (12 features)
    inception = InceptionFeatures(nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten()), num_features=12, size=32)
    ds = build_dataset("landscapes", split="test", size=SIZE, length=NUM)
    results = evaluate(lambda batch: {"output": batch["image"]}, ds, "fid,swd,semantic,style", batch_size=4,
                       progress=False, vgg="random", inception=inception)
    row = results["output"]
    assert row["samples"] == NUM and results["run"]["metrics"] == "fid,swd,semantic,style"
    assert row["fid"] == pytest.approx(0, abs=1e-6)
    assert row["swd_gt_avg"] == 0 and row["swd_gt_16"] == 0
    assert row["semantic_consistency"] == pytest.approx(1, abs=1e-5)
    assert {"semantic_r32", "semantic_r42", "semantic_r52", "style_color", "style_texture"} <= set(row)
    assert 0 < row["style_color"] < 1 and 0 < row["style_texture"] <= 1
    mirrored = evaluate(lambda batch: {"output": batch["image"].flip(-1)}, ds, ["fid", "swd", "semantic"],
                        progress=False, vgg="random", inception=inception)["output"]
    assert mirrored["fid"] > 0.03 and mirrored["swd_gt_avg"] > 0 and mirrored["semantic_consistency"] < 0.9999
    assert "kid_mean" not in mirrored and "style_color" not in mirrored


@pytest.fixture(scope="module")
def folder_data(tmp_path_factory):
    from cocosnet.app.gallery import landscape_scene

    root = tmp_path_factory.mktemp("folder_data")
    for i, kind in enumerate(("lake", "coast", "valley", "meadow")):
        ids, photo = landscape_scene(300 + i, SIZE, kind)
        (root / "images").mkdir(exist_ok=True)
        (root / "labels").mkdir(exist_ok=True)
        photo.save(root / "images" / f"s{i}.png")
        Image.fromarray(ids.astype(np.uint8)).save(root / "labels" / f"s{i}.png")
    return root


def test_folder_data_set_with_real_data_metrics(tmp_path, folder_data):
    out = tmp_path / "eval"
    rc = main(["evaluate", "--baseline", "mean_colour", "--data", str(folder_data), "--dataset", "folder",
               "--label-nc", "10", "--image-size", str(SIZE), "--metrics", "swd,semantic,style", "--vgg", "random",
               "--out", str(out), "--no-progress"])
    assert rc == 0
    results = json.loads((out / "results.json").read_text())
    assert list(results) == ["run", "output"]
    row = results["output"]
    assert row["samples"] == 4 and finite_numbers(row)
    assert {"swd_gt_avg", "semantic_consistency", "style_color", "style_texture"} <= set(row)
    assert "delta_e" not in row
    with Image.open(out / "grid.png") as grid:
        assert grid.size == (5 * CELL + 2, 4 * CELL + 2)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--baseline", "paste", "--data", "{tmp}", "--dataset", "nosuchset"], "unknown data set 'nosuchset'"),
        (["--checkpoint", "{tmp}/missing", "--data", "landscapes"], "missing/config.json not found"),
        (["--baseline", "paste", "--data", "{tmp}/nowhere", "--dataset", "ade20k"], "nowhere"),
        (["--baseline", "paste", "--data", "{folder}", "--dataset", "folder", "--label-nc", "10", "--metrics",
          "answer_key"], "need the oracle"),
        (["--baseline", "paste", "--data", "landscapes", "--metrics", "delta"], "unknown metrics ['delta']"),
        (["--baseline", "paste"], "give --data"),
        (["--baseline", "paste", "--data", "{folder}", "--dataset", "landscapes"], "use --data landscapes"),
        (["--compare", "{tmp}/a.json", "{tmp}/b.json"], "results file not found"),
    ],
)
def test_bad_input_errors(tmp_path, folder_data, capsys, argv, message):
    argv = [a.format(tmp=tmp_path, folder=folder_data) for a in argv]
    assert main(["evaluate", "--no-progress", "--out", str(tmp_path / "out"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cocosnet evaluate: error:") and message in err
    assert not (tmp_path / "out").exists()


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
