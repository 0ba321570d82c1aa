"""`cocosnet prepare-dataset` on a tiny folder of real photos (scikit-image's astronaut as faces), then `train`
and `evaluate` reading the result directly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cocosnet.cli import main
from cocosnet.data import build_dataset
from cocosnet.data.pairs import read_pairs
from cocosnet.data.photo_dataset import LOG, PhotoTask

FAST = ["--size", "128", "--min-size", "48", "--vgg", "random", "--refs", "3", "--no-progress"]
TINY_MODEL = ["--image-size", "64", "--set", "adaptor_nf=4", "--set", "corr_blocks=1", "--set", "corr_channels=16",
              "--set", "ngf=2", "--set", "ndf=8", "--set", "spade_hidden=8"]


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """Five faces (the astronaut, mirrored, cropped, darker, shifted), a photo with no face, a file that is no
    picture and a photo too small to use."""
    from skimage import data

    root = tmp_path_factory.mktemp("photos")
    a = data.astronaut()
    faces = [a, a[:, ::-1], a[10:490, 40:500], (a * 0.8).astype(np.uint8), a[30:, 20:]]
    for i, face in enumerate(faces):
        Image.fromarray(np.ascontiguousarray(face)).save(root / f"face{i}.jpg")
    Image.fromarray(data.coffee()).save(root / "coffee.png")  # no face
    (root / "notes.jpg").write_bytes(b"this is not a jpeg")
    Image.fromarray(np.full((20, 30, 3), 128, np.uint8)).save(root / "thumb.png")
    return root


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def write_official_layout(folder: Path, preset: str, flags: list[str]) -> Path:
    """latest_net_G.pth (DataParallel's `module.` prefix, as the released files), _Corr.pth, _D.pth of a
    randomly initialised model at the widths `flags` set (the full official widths cost ~1.8 GB a checkpoint)."""
    import torch

    from cocosnet.discriminator import MultiscaleDiscriminator
    from cocosnet.model import CoCosNet
    from cocosnet.presets import get_model_config

    sizes = dict(flag.split("=") for flag in flags if "=" in flag)
    cfg = get_model_config(preset, image_size=int(flags[flags.index("--image-size") + 1]),
                           **{k: int(v) for k, v in sizes.items()})
    torch.manual_seed(3)
    model, d = CoCosNet(cfg), MultiscaleDiscriminator(cfg)
    folder.mkdir()
    torch.save({f"module.{k}": v for k, v in model.generator.state_dict().items()}, folder / "latest_net_G.pth")
    torch.save(model.correspondence.state_dict(), folder / "latest_net_Corr.pth")
    torch.save(d.state_dict(), folder / "latest_net_D.pth")
    return folder


def test_face_folder_becomes_a_celebahq_edge_data_set_with_skips_named(photos, tmp_path, capsys):
    out = tmp_path / "faces"
    assert main(["prepare-dataset", "--task", "face", "--photos", str(photos), "--out", str(out),
                 "--val-fraction", "0.25", "--seed", "2", *FAST]) == 0
    text = capsys.readouterr().out
    assert "skipped coffee.png: no face found" in text
    assert "skipped notes.jpg: unreadable image" in text
    assert "skipped thumb.png: too small (30x20; --min-size 48)" in text
    assert ("5 photos usable (3 train, 2 val), 3 skipped (1 no face found, 1 unreadable image, 1 too small)"
            in text)  # round(0.25 * 8 photos) = 2 held out (seed 2: face0, face4), decided before the photos are read
    assert "train it with: cocosnet train --preset celebahq_edge --data" in text
    train = build_dataset("celebahq_edge", out, "train", crop_size=64)
    val = build_dataset("celebahq_edge", out, "val", crop_size=64)
    assert len(train) + len(val) == 5 and not set(train.keys) & set(val.keys)
    sample = val[0]
    assert sample["label"].shape == (15, 64, 64)
    assert float(sample["label"][1:14].min()) < 0.5  # some part distance map is drawn (not all 255 = missing)
    pairs = read_pairs(out / "pairs_train.txt")
    assert sorted(pairs) == sorted(Path(k).name for k in train.keys) or sorted(pairs) == sorted(train.keys)
    assert all(len(refs) == 2 and k not in refs for k, refs in pairs.items())  # k capped at the other 2 photos
    assert read_pairs(out / "pairs_val.txt") == read_pairs(out / "pairs_test.txt")
    manifest = json.loads((out / "prepare_dataset.json").read_text())
    assert manifest["ids"]["coffee.png"] == 0 and manifest["ids"]["thumb.png"] == 7  # sorted order of the photos

    # two steps on it from official-layout weights (latest_net_G/Corr/D.pth, the authors' key layout at these widths)
    official = write_official_layout(tmp_path / "official", "celebahq_edge", TINY_MODEL)
    run = tmp_path / "run"
    assert main(["train", "--preset", "celebahq_edge", "--data", str(out), *TINY_MODEL, "--vgg", "random",
                 "--batch-size", "2", "--max-steps", "2", "--no-progress", "--init-official", str(official),
                 "--out", str(run)]) == 0
    text = capsys.readouterr().out
    assert "data celebahq_edge (3 samples)" in text and "2 steps (max_steps)" in text
    assert all(f"--init-official: {part} from" in text for part in ("generator", "correspondence", "discriminator"))
    ev = tmp_path / "eval"
    assert main(["evaluate", "--checkpoint", str(run / "model"), "--data", str(out), "--metrics", "swd",
                 "--no-progress", "--out", str(ev), "--format", "none"]) == 0
    assert json.loads((ev / "results.json").read_text())["run"]["samples"] == 2  # the 2 val photos


def test_an_interrupted_run_continues_where_it_stopped(photos, tmp_path, capsys, monkeypatch):
    whole = tmp_path / "whole"
    args = ["prepare-dataset", "--task", "face", "--photos", str(photos), *FAST[:4], "--vgg", "none", "--refs", "3",
            "--no-progress"]
    assert main([*args, "--out", str(whole)]) == 0
    part = tmp_path / "part"
    real_write, calls, done_once = PhotoTask.write, [], False

    class PowerCut(Exception):
        pass

    def crash_on_the_fourth(self, *a, **kw):
        calls.append(a[1])
        if len(calls) == 4 and not done_once:
            raise PowerCut
        return real_write(self, *a, **kw)

    monkeypatch.setattr(PhotoTask, "write", crash_on_the_fourth)
    with pytest.raises(PowerCut):
        main([*args, "--out", str(part)])
    first = {p: p.stat().st_ino for p in part.rglob("*.png")}
    assert len((part / LOG).read_text().splitlines()) == 3 and not (part / "pairs_train.txt").exists()
    calls.clear()
    done_once = True
    capsys.readouterr()
    assert main([*args, "--out", str(part), "--limit", "2"]) == 0
    text = capsys.readouterr().out
    assert "3 of 8 photos already done" in text and "3 photos not done yet: run the same command again" in text
    assert len(calls) == 2 and not (part / "pairs_train.txt").exists()
    assert main([*args, "--out", str(part)]) == 0
    assert "5 of 8 photos already done" in capsys.readouterr().out
    assert len(calls) == 5  # only the five photos not done before were read, each once
    assert all(p.stat().st_ino == ino for p, ino in first.items())  # nothing written before was rewritten
    a, b = tree(whole), tree(part)
    logs = (a.pop(LOG), b.pop(LOG))
    assert a == b  # the same files, byte for byte, as an uninterrupted run
    assert sorted(logs[0].splitlines()) == sorted(logs[1].splitlines())


def test_the_split_is_decided_by_the_seed(photos, tmp_path, capsys):
    def val_split(seed: int, name: str) -> list[str]:
        out = tmp_path / name
        assert main(["prepare-dataset", "--task", "face", "--photos", str(photos), "--out", str(out), "--seed",
                     str(seed), "--val-fraction", "0.4", "--vgg", "none", *FAST[:4], "--no-progress"]) == 0
        return (out / "val.txt").read_text().split()

    assert val_split(1, "a") == val_split(1, "b")
    assert any(val_split(s, f"s{s}") != val_split(1, "a") for s in (2, 3, 4))


def test_labels_task_writes_the_ade20k_layout_and_names_unmatched_label_maps(tmp_path, capsys):
    photos, labels = tmp_path / "photos", tmp_path / "labels"
    photos.mkdir()
    labels.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 255, (80, 96, 3), dtype=np.uint8)).save(photos / f"p{i}.png")
        lab = np.zeros((80, 96), np.uint8)
        lab[: 20 * (i + 1)] = 3 + i
        lab[-5:] = 255
        if i < 3:
            Image.fromarray(lab).save(labels / f"p{i}.png")
    Image.fromarray(rng.integers(0, 255, (80, 96, 3), dtype=np.uint8)).save(photos / "p4.png")
    Image.fromarray(np.full((80, 96), 200, np.uint8)).save(labels / "p4.png")
    out = tmp_path / "data"
    args = ["prepare-dataset", "--task", "labels", "--photos", str(photos), "--labels", str(labels), "--out",
            str(out), "--val-fraction", "0.3", "--size", "64", "--vgg", "none", "--no-progress"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert f"skipped p3.png: no label map {labels / 'p3.png'}" in text
    assert f"skipped p4.png: {labels / 'p4.png'}: label ids out of range 0..150 (255 = don't-care): found 200" in text
    train, val = (build_dataset("ade20k", out, s, crop_size=64) for s in ("train", "val"))
    assert len(train) + len(val) == 3
    ids = np.unique(train[0]["label"].numpy())
    assert ids[0] == 0 and 3 <= ids[1] <= 5 and ids[2] == 150 and len(ids) == 3  # 255 -> don't-care 150
    Image.fromarray(np.zeros((80, 96), np.uint8)).save(labels / "stray.png")
    Image.fromarray(np.zeros((80, 96), np.uint8)).save(labels / "other.png")
    assert main([*args, "--out", str(tmp_path / "x")]) == 2  # the later --out wins
    assert f"2 label map(s) match no photo in {photos}: other.png, stray.png" in capsys.readouterr().err


def test_bad_inputs_are_named(tmp_path, capsys, photos):
    def err(*args: str) -> str:
        assert main(["prepare-dataset", *args]) == 2
        return capsys.readouterr().err

    out = str(tmp_path / "o")
    assert "photo folder not found" in err("--task", "face", "--photos", str(tmp_path / "nope"), "--out", out)
    (tmp_path / "empty").mkdir()
    assert "no photos (png, jpg, ...) in the photo folder" in err("--task", "pose", "--photos",
                                                                 str(tmp_path / "empty"), "--out", out)
    assert "--task labels needs --labels DIR" in err("--task", "labels", "--photos", str(photos), "--out", out)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "thesis.tex").write_text("x")
    assert f"{busy} holds other files and no prepare_dataset.json" in err("--task", "face", "--photos",
                                                                          str(photos), "--out", str(busy))
    assert (busy / "thesis.tex").read_text() == "x"
    done = tmp_path / "done"
    assert main(["prepare-dataset", "--task", "face", "--photos", str(photos), "--out", str(done), "--vgg", "none",
                 "--no-progress", "--size", "128", "--min-size", "48"]) == 0
    assert "was prepared with other settings" in err("--task", "face", "--photos", str(photos), "--out", str(done),
                                                     "--vgg", "none", "--seed", "5")


def test_pose_task_writes_the_deepfashion_layout(photos, tmp_path, capsys):
    out = tmp_path / "pose"
    assert main(["prepare-dataset", "--task", "pose", "--photos", str(photos), "--out", str(out), "--seed", "2",
                 "--val-fraction", "0.25", "--vgg", "none", *FAST[:4], "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "skipped coffee.png: no person found" in text
    assert "train it with: cocosnet train --preset deepfashion --data" in text
    train = build_dataset("deepfashion", out, "train", crop_size=64)
    assert train.keys == (out / "train.txt").read_text().split()
    kp = json.loads((out / "pose" / f"{Path(train.keys[0]).stem}.json").read_text())["keypoints"]
    assert len(kp) == 18 and kp[0][2] > 0  # the astronaut's nose is found
    sample = train[0]
    assert sample["label"].shape == (20, 64, 64) and float(sample["self_ref"]) == 1.0  # each photo its own outfit
    assert build_dataset("deepfashion", out, "test", crop_size=64).keys == (out / "val.txt").read_text().split()
