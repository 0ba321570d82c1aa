import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import default_collate

from cocosnet.data import DataError, build_dataset
from cocosnet.data.pairs import read_pairs, write_pairs


def test_ade20k_sample_contract(ade_root):
    ds = build_dataset("ade20k", ade_root, "val", crop_size=32)
    assert len(ds) == 2
    s = ds[0]
    assert s["label"].dtype == torch.long and s["label"].shape == (1, 32, 32)
    assert s["label"][0, 0, 0] == 150  # 255 -> don't-care = label_nc - 1
    assert s["label"][0, 31, 5] == 10 and s["label"][0, 2, 5] == 3
    assert s["image"].shape == (3, 32, 32) and s["image"].min() >= -1 and s["image"].max() <= 1
    assert float(s["self_ref"]) == 0.0 and s["key"] == "images/validation/ADE_val_00000000.jpg"
    # automatic pairs at test look in the training split: training image 0 has the same classes
    assert ds.pairs[s["key"]][0] == "images/training/ADE_train_00000000.jpg"
    assert s["exemplar_label"][0, 31, 5] == 10
    batch = default_collate([ds[0], ds[1]])
    assert batch["label"].shape == (2, 1, 32, 32) and batch["key"][1].endswith("ADE_val_00000001.jpg")


def test_ade20k_reads_official_pair_list_as_is(ade_root):
    (ade_root / "ade20k_ref_test.txt").write_text(
        "ADE_val_00000000.jpg,ADE_train_00000003.jpg,ADE_train_00000001.jpg\n"
    )
    ds = build_dataset("ade20k", ade_root, "test", crop_size=32)
    assert ds.pairs["images/validation/ADE_val_00000000.jpg"] == [
        "images/training/ADE_train_00000003.jpg",
        "images/training/ADE_train_00000001.jpg",
    ]
    assert ds[0]["exemplar_label"][0, 31, 5] == 13  # first (easiest) entry: training image 3


def test_ade20k_training_exemplar_choice(ade_root):
    ds = build_dataset("ade20k", ade_root, "train", crop_size=32, load_size=36)
    refs = [ds._choose(ds.keys[0], np.random.default_rng(i)) for i in range(400)]
    pseudo = sum(1 for k, s in refs if k is None and s == 1.0)
    hard = sum(1 for k, _ in refs if k == ds.pairs[ds.keys[0]][-1])
    assert 80 < pseudo < 160  # p = 0.3
    assert 50 < hard < 120  # p = 0.2
    s = ds[1]
    assert s["image"].shape == (3, 32, 32)


def test_ade20k_bad_data(ade_root):
    bad = ade_root / "images" / "validation" / "ADE_val_00000001.jpg"
    bad.write_bytes(b"garbage")
    ds = build_dataset("ade20k", ade_root, "val", crop_size=32, pairs={})
    with pytest.raises(DataError, match="ADE_val_00000001.jpg"):
        ds._load(ds.keys[1], ds.test_augment())
    # size mismatch
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(
        ade_root / "annotations" / "validation" / "ADE_val_00000000.png"
    )
    with pytest.raises(DataError, match=r"ADE_val_00000000\.png.*does not match"):
        ds._load(ds.keys[0], ds.test_augment())


def test_ade20k_out_of_range_and_skip_bad(ade_root):
    lab = np.full((30, 40), 151, np.uint8)
    Image.fromarray(lab).save(ade_root / "annotations" / "training" / "ADE_train_00000002.png")
    ds = build_dataset("ade20k", ade_root, "train", crop_size=32, load_size=32)
    with pytest.raises(DataError, match=r"ADE_train_00000002\.png.*151"):
        for i in range(len(ds)):
            ds._load(ds.keys[i], ds.test_augment())
    ds2 = build_dataset(
        "ade20k",
        ade_root,
        "test",
        crop_size=32,
        skip_bad=True,
        pairs={
            "ADE_val_00000000.jpg": ["ADE_train_00000002.jpg"],
            "ADE_val_00000001.jpg": ["ADE_train_00000000.jpg"],
        },
    )
    with pytest.warns(UserWarning, match="ADE_train_00000002.png"):
        s = ds2[0]
    assert s["key"].endswith("ADE_val_00000001.jpg") and ds2.bad.count == 1


def test_pair_entry_naming_missing_file(ade_root, tmp_path):
    p = tmp_path / "pairs.txt"
    write_pairs(p, {"ADE_val_00000000.jpg": ["ADE_train_00000001.jpg", "nope.jpg"]})
    ds = build_dataset("ade20k", ade_root, "val", crop_size=32, pairs=p)
    with pytest.raises(DataError, match=r"pairs\.txt.*nope\.jpg"):
        ds[0]
    ds = build_dataset("ade20k", ade_root, "val", crop_size=32, pairs=p, skip_bad=True)
    with pytest.warns(UserWarning, match="nope.jpg"):
        assert ds.pairs["images/validation/ADE_val_00000000.jpg"] == [
            "images/training/ADE_train_00000001.jpg"
        ]
    assert ds.bad.count == 1


def test_ade20k_outdoor_filter_and_painter_classes(ade_root):
    lab = np.full((30, 40), 4, np.uint8)  # floor: indoor
    lab[:5] = 3
    Image.fromarray(lab).save(ade_root / "annotations" / "training" / "ADE_train_00000001.png")
    ds = build_dataset("ade20k_outdoor", ade_root, "train", crop_size=32, landscape_classes=True)
    assert len(ds) == 3 and not any(k.endswith("00000001.jpg") for k in ds.keys)
    s = ds.load_semantic(ds.keys[0])
    assert s[0, 2, 5] == 6 and s[0, 31, 5] == 7  # sky -> 6, ADE grass (10) -> painter grass 7


def test_celebahq_edge_encoding_values(celeba_root):
    ds = build_dataset("celebahq_edge", celeba_root, "test", crop_size=32)
    assert ds.keys == ["CelebA-HQ-img/2.jpg"]
    s = ds[0]
    lab = s["label"]
    assert lab.dtype == torch.float32 and lab.shape == (15, 32, 32)
    # skin distance map (channel 1): centre (16,16) is 9 px (L1) from the skin boundary at column 25 -> 9/3
    assert lab[1, 16, 16] * 255 == pytest.approx(3.0, abs=1e-4)
    assert lab[1, 4, 6] == 0  # on the boundary
    # l_eye (channel 4) present, r_eye (channel 5) missing -> all 255/255
    assert lab[4, 11, 10] == 0  # 1 px inside the eye boundary: 1/3 -> 0
    assert lab[4, 11, 20] * 255 == pytest.approx(2.0, abs=1e-4)  # 7 px from the edge at column 13: 7/3 -> 2
    assert torch.all(lab[5] == 1.0)
    # parsing edges (last channel): boundaries of skin and eye, nothing inside the face
    assert lab[14, 4, 6] == 1 and lab[14, 3, 6] == 1 and lab[14, 16, 16] == 0 and lab[14, 10, 9] == 1
    assert torch.all(lab[0] >= lab[14])  # edges_all contains the parsing edges
    assert set(torch.unique(lab[0]).tolist()) <= {0.0, 1.0}


def test_celebahq_mask_ids(celeba_root):
    ds = build_dataset("celebahq_mask", celeba_root, "train", crop_size=32, load_size=32, flip=False)
    s = ds.load_semantic(ds.keys[0])
    assert s.dtype == torch.long and s[0, 16, 16] == 1 and s[0, 11, 10] == 4 and s[0, 0, 0] == 0
    glasses = np.zeros((32, 32), np.uint8)
    glasses[11, 20:24] = 255
    Image.fromarray(glasses).save(celeba_root / "CelebAMask-HQ-mask-anno" / "0" / "00000_eye_g.png")
    ds = build_dataset("celebahq_mask", celeba_root, "train", crop_size=32, load_size=32, flip=False)
    assert ds.load_semantic("CelebA-HQ-img/0.jpg")[0, 11, 21] == 16


def test_deepfashion_pose_encoding_values(fashion_root):
    ds = build_dataset("deepfashion", fashion_root, "test", crop_size=64)
    s = ds[0]
    lab = s["label"]
    assert lab.shape == (20, 64, 64) and lab.dtype == torch.float32
    # limb 0 (neck -> right shoulder) drawn in OpenPose colour (B=255) blended 0.6: RGB (0, 0, 153)
    assert (lab[:3, 20, 26] * 255).round().tolist() == [0.0, 0.0, 153.0]
    # keypoint disc of the neck (colour index 1 = BGR (255, 85, 0)) under the blended limb
    assert lab[0, 20, 32] == 0 and lab[2, 20, 32] > 0
    # limb 0 distance map: 0 on the limb, 6 px (L1) below it -> 6/3 = 2
    assert lab[3, 20, 26] == 0
    assert lab[3, 30, 26] * 255 == pytest.approx(2.0, abs=1e-4)
    assert torch.all(lab[4:] == 1.0)  # the 16 other limbs are absent
    assert float(s["self_ref"]) == 0.0 and s["key"].endswith("02_1_front.jpg")


def test_deepfashion_same_outfit_rule(fashion_root):
    ds = build_dataset("deepfashion", fashion_root, "train", crop_size=64)
    key = ds.keys[0]
    ex, self_ref = ds._choose(key, np.random.default_rng(0))
    assert ex.endswith("01_2_side.jpg") and self_ref == 1.0
    s = ds[0]
    assert float(s["self_ref"]) == 1.0


def test_deepfashion_keypoint_json(fashion_root):
    import json

    from cocosnet.data.datasets import read_keypoints_json

    kp = np.full((18, 3), -1.0)
    kp[1] = [32, 20, 0.9]
    kp[2] = [20, 20, 0.8]
    folder = fashion_root / "pose" / "WOMEN" / "Dresses" / "id_00000001"
    for suffix in ("_candidate.txt", "_subset.txt"):
        (folder / f"02_1_front{suffix}").unlink()
    (folder / "02_1_front.json").write_text(
        json.dumps({"people": [{"pose_keypoints_2d": kp.ravel().tolist()}]})
    )
    assert read_keypoints_json(folder / "02_1_front.json")[2].tolist() == [20, 20, 0.8]
    ds = build_dataset("deepfashion", fashion_root, "test", crop_size=64)
    assert (ds[0]["label"][:3, 20, 26] * 255).round().tolist() == [0.0, 0.0, 153.0]
    (folder / "02_1_front.json").unlink()
    with pytest.raises(DataError, match="no keypoints"):
        ds[0]


def test_folder_dataset_labels_npz_and_edges(tmp_path):
    root = tmp_path / "mine"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for i in range(3):
        arr = np.zeros((16, 16, 3), np.uint8)
        arr[4:12, 4:12] = 200 + i
        Image.fromarray(arr).save(root / "images" / f"p{i}.png")
        Image.fromarray(np.full((16, 16), i, np.uint8)).save(root / "labels" / f"p{i}.png")
    ds = build_dataset("folder", root, "test", crop_size=16, label_nc=5)
    assert ds[1]["label"].unique().tolist() == [1]
    np.savez(root / "labels" / "p0.npz", label=np.ones((2, 16, 16), np.float32) * 0.5)
    (root / "labels" / "p0.png").unlink()
    ds = build_dataset("folder", root, "test", crop_size=16, label_nc=5)
    assert ds.load_semantic("images/p0.png").shape == (2, 16, 16)
    edges = build_dataset("folder", root, "test", crop_size=16, edges="canny")
    e = edges.load_semantic("images/p1.png")
    assert e.shape == (1, 16, 16) and e[0, 4, 8] == 1 and e[0, 8, 8] == 0
    (root / "labels" / "p2.png").unlink()
    with pytest.raises(DataError, match="p2"):
        build_dataset("folder", root, "test", crop_size=16, label_nc=5)
    with pytest.warns(UserWarning, match="p2"):
        ds = build_dataset("folder", root, "test", crop_size=16, label_nc=5, skip_bad=True)
    assert len(ds) == 2 and ds.bad.count == 1


def test_pairs_round_trip(tmp_path):
    pairs = {"a.jpg": ["b.jpg", "c.jpg"], "b.jpg": ["a.jpg"]}
    p = write_pairs(tmp_path / "x_ref.txt", pairs)
    assert p.read_text() == "a.jpg,b.jpg,c.jpg\nb.jpg,a.jpg\n"
    assert read_pairs(p) == pairs


def test_build_dataset_names(tmp_path):
    with pytest.raises(KeyError, match="unknown data set"):
        build_dataset("imagenet", tmp_path)
    ds = build_dataset("landscapes", split="val", size=32, length=3)
    assert ds[0]["oracle"].shape == (3, 32, 32)


@pytest.mark.parametrize("name", ["celebahq_edge", "celebahq_mask"])
def test_celebahq_at_a_non_square_size(celeba_root, name):
    """`out_hw` (evaluate --size HxW) reaches the CelebA-HQ encodings and masks: every map at H x W."""
    square = build_dataset(name, celeba_root, "test", crop_size=32)[0]
    wide = build_dataset(name, celeba_root, "test", crop_size=32, out_hw=(32, 48))[0]
    channels = square["label"].shape[0]
    assert wide["label"].shape == (channels, 32, 48) and wide["image"].shape == (3, 32, 48)
    assert wide["exemplar"].shape == (3, 32, 48) and wide["exemplar_label"].shape == (channels, 32, 48)
    same = build_dataset(name, celeba_root, "test", crop_size=32, out_hw=(32, 32))[0]
    assert torch.equal(same["label"], square["label"]) and torch.equal(same["image"], square["image"])
