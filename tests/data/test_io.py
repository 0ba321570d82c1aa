import numpy as np
import pytest
import torch
from PIL import Image

from cocosnet.data import DataError, load_image, load_label
from cocosnet.data.io import check_label_ids, save_image
from cocosnet.data.transforms import Augment, apply_augment, draw_augment, image_to_tensor, tensor_to_image
from cocosnet.fileio import atomic_write_text


def test_load_image_range_and_size(tmp_path):
    arr = np.zeros((10, 20, 3), np.uint8)
    arr[..., 0] = 255
    t = load_image(arr, None)
    assert t.shape == (3, 10, 20) and t.dtype == torch.float32
    assert t[0].eq(1).all() and t[1].eq(-1).all()
    p = tmp_path / "a.png"
    Image.fromarray(arr).save(p)
    t2 = load_image(p, 16)
    assert t2.shape == (3, 16, 16)
    assert torch.allclose(load_image(Image.fromarray(arr), (10, 20)), t)


def test_load_image_unreadable_names_file(tmp_path):
    p = tmp_path / "broken.jpg"
    p.write_bytes(b"not an image")
    with pytest.raises(DataError, match="broken.jpg"):
        load_image(p, 8)


def test_load_label_dontcare_and_nearest(tmp_path):
    lab = np.array([[0, 1], [255, 2]], np.uint8)
    p = tmp_path / "l.png"
    Image.fromarray(lab).save(p)
    t = load_label(p, None, 151)
    assert t.dtype == torch.long and t.shape == (1, 2, 2)
    assert t[0, 1, 0] == 150 and t[0, 1, 1] == 2
    big = load_label(p, 4, 151)
    assert big.shape == (1, 4, 4) and big[0, 3, 0] == 150 and big[0, 0, 3] == 1


def test_load_label_out_of_range_names_file_and_values(tmp_path):
    p = tmp_path / "bad_label.png"
    Image.fromarray(np.array([[0, 12], [200, 3]], np.uint8)).save(p)
    with pytest.raises(DataError, match=r"bad_label\.png.*12, 200"):
        load_label(p, None, 10)
    with pytest.raises(DataError, match="found 10"):
        check_label_ids(np.array([[10]]), 10)


def test_augment_crop_flip_matches_hand_values():
    arr = np.arange(16, dtype=np.uint8).reshape(4, 4)
    out = apply_augment(arr, Augment(4, 2, x=1, y=2, flip=True), "nearest")
    assert out.tolist() == [[10, 9], [14, 13]]
    aug = draw_augment(np.random.default_rng(0), 286, 256, True)
    assert 0 <= aug.x <= 30 and 0 <= aug.y <= 30
    assert draw_augment(None, 256, 256, True) == Augment(256, 256, 0, 0, False)


def test_tensor_image_round_trip_and_atomic_writes(tmp_path):
    arr = np.random.default_rng(0).integers(0, 256, (5, 6, 3), dtype=np.uint8)
    assert np.array_equal(tensor_to_image(image_to_tensor(arr)), arr)
    p = save_image(tmp_path / "x" / "y.png", arr)
    assert np.array_equal(np.asarray(Image.open(p)), arr)
    atomic_write_text(tmp_path / "t.txt", "hello")
    assert (tmp_path / "t.txt").read_text() == "hello"
    assert not [f for f in tmp_path.iterdir() if f.name.endswith(".tmp")]
