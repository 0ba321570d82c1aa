"""Tiny fixture trees in the published layouts of each data set."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def _img(path: Path, w: int, h: int, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    arr = np.zeros((h, w, 3), np.uint8)
    arr[:] = rng.integers(40, 200, 3)
    arr[h // 4 : h // 2, w // 4 : w // 2] = 230
    Image.fromarray(arr).save(path)


def _png(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr.astype(np.uint8)).save(path)


@pytest.fixture
def ade_root(tmp_path):
    root = tmp_path / "ADEChallengeData2016"
    for split, prefix, n in (("training", "ADE_train", 4), ("validation", "ADE_val", 2)):
        for i in range(n):
            name = f"{prefix}_{i:08d}"
            _img(root / "images" / split / f"{name}.jpg", 40, 30, i)
            lab = np.zeros((30, 40), np.uint8)
            lab[:10] = 3  # sky
            lab[10:] = 10 + i  # grass-ish classes differ per image
            lab[0, 0] = 255  # don't-care
            _png(root / "annotations" / split / f"{name}.png", lab)
    return root


@pytest.fixture
def celeba_root(tmp_path):
    root = tmp_path / "CelebAMask-HQ"
    for i in range(3):
        _img(root / "CelebA-HQ-img" / f"{i}.jpg", 64, 64, i)
        skin = np.zeros((32, 32), np.uint8)
        skin[4:28, 6:26] = 255
        _png(root / "CelebAMask-HQ-mask-anno" / "0" / f"{i:05d}_skin.png", skin)
        eye = np.zeros((32, 32), np.uint8)
        eye[10:13, 9:13] = 255
        _png(root / "CelebAMask-HQ-mask-anno" / "0" / f"{i:05d}_l_eye.png", eye)
        parts = np.zeros((32, 32), np.uint8)
        parts[4:28, 6:26] = 1
        parts[10:13, 9:13] = 4
        _png(root / "all_parts_except_glasses" / f"{i}.png", parts)
    return root


@pytest.fixture
def fashion_root(tmp_path):
    root = tmp_path / "DeepFashion"
    folder = Path("img/WOMEN/Dresses/id_00000001")
    names = ["01_1_front", "01_2_side", "02_1_front"]
    for i, n in enumerate(names):
        _img(root / folder / f"{n}.jpg", 64, 64, i)
        pose = root / "pose" / folder.relative_to("img")
        pose.mkdir(parents=True, exist_ok=True)
        # neck (id 1) and right shoulder (id 2): limb 0 = (2, 3) 1-based = neck -> r_shoulder
        (pose / f"{n}_candidate.txt").write_text("32 20 0.9 0\n20 20 0.8 1\n")
        sub = [-1] * 18 + [1.7, 2]
        sub[1], sub[2] = 0, 1
        (pose / f"{n}_subset.txt").write_text(" ".join(str(v) for v in sub) + "\n")
    (root / "train.txt").write_text("\n".join(str(folder / f"{n}.jpg") for n in names[:2]) + "\n")
    (root / "test.txt").write_text(str(folder / f"{names[2]}.jpg") + "\n")
    (root / "deepfashion_ref_test.txt").write_text(f"{folder}/{names[2]}.jpg,{folder}/{names[0]}.jpg\n")
    return root
