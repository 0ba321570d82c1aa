"""`cocosnet evaluate` and `evaluate` (the loop and its report): a tiny model and the baselines over a few
landscapes test pairs at 64x64, the real-data metrics on a small folder data set, --compare, and the errors."""

import json
import math

import numpy as np
import pytest
from PIL import Image
from torch import nn

from cocosnet.cli import main
from cocosnet.data import build_dataset
from cocosnet.data.landscapes import FAMILIES
from cocosnet.evaluation import evaluate
from cocosnet.evaluation.baselines import baseline_mean_colour
from cocosnet.evaluation.metrics.fid import InceptionFeatures, encode_roundtrip
from cocosnet.evaluation.report import _fmt
from cocosnet.presets import LANDSCAPE_COLORS

from .conftest import NUM, SIZE, direct_answer_key, landscapes_pairs

pytestmark = pytest.mark.usefixtures("one_thread")

CELL = SIZE + 2  # the report grid's padding is 2


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
    from cocosnet.data.landscapes import make_scene

    root = tmp_path_factory.mktemp("folder_data")
    for i, kind in enumerate(("lake", "coast", "valley", "meadow")):
        ids, photo = make_scene(300 + i, SIZE, kind)
        (root / "images").mkdir(exist_ok=True)
        (root / "labels").mkdir(exist_ok=True)
        Image.fromarray(photo).save(root / "images" / f"s{i}.png")
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
