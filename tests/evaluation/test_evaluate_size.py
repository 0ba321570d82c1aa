"""`cocosnet evaluate --size HxW`: a folder data set read at a non-square size (resized, no crop) and the
landscapes rendered at it, the tiny model run at it (rounded to multiples of 32 and back when needed), the square
default unchanged, the errors."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from cocosnet.cli import main
from cocosnet.data import build_dataset
from cocosnet.data.transforms import image_to_tensor
from cocosnet.evaluation.predictors import model_predictor

pytestmark = pytest.mark.usefixtures("one_thread")

SRC_H, SRC_W = 80, 120  # the files' own size: neither the square crop nor the asked size


@pytest.fixture(scope="module")
def wide_folder(tmp_path_factory):
    """Three 80x120 landscapes (photo + class ids) in the folder layout."""
    from cocosnet.data.landscapes import make_scene

    root = tmp_path_factory.mktemp("wide_folder")
    (root / "images").mkdir()
    (root / "labels").mkdir()
    for i, kind in enumerate(("lake", "coast", "valley")):
        ids, photo = make_scene(400 + i, SRC_W, kind)  # square SRC_W, cropped to SRC_H rows
        Image.fromarray(photo[:SRC_H]).save(root / "images" / f"s{i}.png")
        Image.fromarray(ids[:SRC_H].astype(np.uint8)).save(root / "labels" / f"s{i}.png")
    return root


def test_dataset_at_a_size_is_a_plain_resize_and_the_square_default_is_unchanged(wide_folder):
    square = build_dataset("folder", wide_folder, "test", crop_size=64, label_nc=10)
    wide = build_dataset("folder", wide_folder, "test", crop_size=64, label_nc=10, out_hw=(64, 96))
    as_square = build_dataset("folder", wide_folder, "test", crop_size=64, label_nc=10, out_hw=(64, 64))
    s, w, q = square[0], wide[0], as_square[0]
    assert s["image"].shape == (3, 64, 64) and w["image"].shape == (3, 64, 96) and w["label"].shape == (1, 64, 96)
    # at the test crop's size the resize route is the square test transform exactly
    for k in ("image", "label", "exemplar", "exemplar_label"):
        assert torch.equal(s[k], q[k])
    # the whole picture, resized by PIL (bicubic / nearest) to 96x64, nothing cropped
    with Image.open(wide_folder / w["key"]) as im:
        expected = image_to_tensor(np.asarray(im.convert("RGB").resize((96, 64), Image.BICUBIC)))
    with Image.open(wide_folder / "labels" / f"{w['key'].split('/')[-1][:-4]}.png") as lab:
        expected_label = torch.from_numpy(np.asarray(lab.resize((96, 64), Image.NEAREST)).astype(np.int64))[None]
    assert torch.equal(w["image"], expected) and torch.equal(w["label"], expected_label)


def test_evaluate_size_writes_non_square_results(tmp_path, tiny_checkpoint, wide_folder, capsys):
    out = tmp_path / "eval"
    rc = main(["evaluate", "--checkpoint", str(tiny_checkpoint), "--data", str(wide_folder), "--dataset", "folder",
               "--size", "64x96", "--metrics", "swd", "--device", "cpu", "--out", str(out), "--no-progress"])
    assert rc == 0, capsys.readouterr().err
    results = json.loads((out / "results.json").read_text())
    assert results["run"]["size"] == "64x96" and results["output"]["samples"] == 3
    with Image.open(out / "grid.png") as grid:  # 5 cells of 96x64 per row, 2 px padding, 3 rows
        assert grid.size == (5 * (96 + 2) + 2, 3 * (64 + 2) + 2)


def test_evaluate_size_on_the_landscapes(tmp_path, tiny_checkpoint, capsys):
    """The val/test scenes rendered at 64x96 (answer key and all), the model run at it."""
    out = tmp_path / "eval"
    rc = main(["evaluate", "--checkpoint", str(tiny_checkpoint), "--data", "landscapes", "--num", "2",
               "--size", "64x96", "--device", "cpu", "--out", str(out), "--no-progress"])
    assert rc == 0, capsys.readouterr().err
    results = json.loads((out / "results.json").read_text())
    assert results["run"]["size"] == "64x96" and results["output"]["samples"] == 2
    assert results["output"]["delta_e"] > 0
    with Image.open(out / "grid.png") as grid:
        assert grid.size == (5 * (96 + 2) + 2, 2 * (64 + 2) + 2)
    sample = build_dataset("landscapes", split="test", size=(64, 96), length=2)[0]
    assert all(sample[k].shape[-2:] == (64, 96) for k in ("label", "image", "exemplar", "exemplar_label", "oracle"))
    with pytest.raises(ValueError, match="for val/test"):
        build_dataset("landscapes", split="train", size=(64, 96), length=2)


def test_predictor_off_the_multiples_of_32_runs_at_the_working_size(tiny_checkpoint, wide_folder):
    from cocosnet.inference import Translator

    translator = Translator.from_pretrained(tiny_checkpoint, device="cpu")
    ds = build_dataset("folder", wide_folder, "test", crop_size=64, label_nc=10, out_hw=(56, 100))
    batch = torch.utils.data.default_collate([ds[0]])
    out = model_predictor(translator)(batch)
    assert out["output"].shape == (1, 3, 56, 100) and out["warped"].shape == (1, 3, 56, 100)
    assert out["output"].abs().max() <= 1 and torch.isfinite(out["output"]).all()
    # the same computation as `translate(size=...)` on those tensors: inputs to 64x96, the images back to 56x100
    ex_sem = batch["exemplar_label"] if translator.cfg.needs_exemplar_label else None
    want = translator.translate(batch["label"], batch["exemplar"], ex_sem, size=(56, 100))
    assert torch.equal(out["output"], want.image) and torch.equal(out["warped"], want.warped)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--data", "landscapes", "--split", "train", "--size", "64x96"], "the train split crops square"),
        (["--data", "{folder}", "--dataset", "folder", "--size", "64"], "--size takes HxW"),
        (["--data", "{folder}", "--dataset", "folder", "--size", "8x96"], "size 8x96 is too small"),
        (["--data", "{folder}", "--dataset", "folder", "--size", "64by96"], "size must be N"),
    ],
)
def test_size_errors_before_the_model_loads(tmp_path, wide_folder, capsys, argv, message):
    argv = [a.format(folder=wide_folder) for a in argv]
    # a missing checkpoint would be the error if the model loaded first
    rc = main(["evaluate", "--checkpoint", str(tmp_path / "missing"), "--no-progress", "--out",
               str(tmp_path / "out"), *argv])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("cocosnet evaluate: error:") and message in err
    assert not (tmp_path / "out").exists()
