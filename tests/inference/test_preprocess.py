"""inference/preprocess.py: a preset's inputs from paths, pictures, arrays and tensors, with errors that name them."""

import numpy as np
import pytest
import torch
from PIL import Image

from cocosnet.inference.preprocess import prepare_exemplar, prepare_semantic
from cocosnet.presets import get_model_config


def test_label_preprocessing_is_nearest_and_maps_dontcare():
    cfg = get_model_config("ade20k", image_size=64)
    arr = np.zeros((128, 128), np.uint8)
    arr[1::2, 1::2] = 5  # PIL's NEAREST (the official label resize) samples pixel centres: odd rows/cols
    arr[1, 1] = 255  # don't-care -> 150
    t = prepare_semantic(arr, cfg)
    assert t.dtype == torch.long and t.shape == (1, 64, 64)
    assert t[0, 0, 0] == 150 and t[0, 0, 1] == 5 and t[0, 5, 7] == 5


def test_exemplar_from_a_picture_is_scaled_to_minus_one_one(tmp_path):
    rgb = np.zeros((64, 64, 3), np.uint8)
    rgb[..., 0], rgb[..., 2] = 255, 51  # red 1.0 -> +1, green 0 -> -1, blue 51/255 -> -0.6
    path = tmp_path / "ex.png"
    Image.fromarray(rgb).save(path)
    for source in (path, str(path), Image.fromarray(rgb), rgb):
        t = prepare_exemplar(source, 64)
        assert t.shape == (3, 64, 64) and t.dtype == torch.float32
        torch.testing.assert_close(t[:, 5, 5], torch.tensor([1.0, -1.0, 51 / 127.5 - 1]))


def test_exemplar_tensors_pass_through_and_are_resized_bicubic():
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    assert torch.equal(prepare_exemplar(x, 32), x[0])
    big = prepare_exemplar(x, 64)
    want = torch.nn.functional.interpolate(x, size=(64, 64), mode="bicubic", align_corners=False)[0].clamp(-1, 1)
    torch.testing.assert_close(big, want)
    with pytest.raises(ValueError, match=r"exemplar tensor must be \[3,H,W\] in \[-1,1\], got \(1, 32, 32\)"):
        prepare_exemplar(torch.zeros(1, 32, 32), 32)


def test_dense_maps_from_files_and_their_errors(tmp_path):
    cfg = get_model_config("celebahq_edge", image_size=64)
    m = np.random.default_rng(0).random((15, 32, 32)).astype(np.float32)
    np.save(tmp_path / "edges.npy", m)
    t = prepare_semantic(tmp_path / "edges.npy", cfg)
    assert t.shape == (15, 64, 64)
    assert torch.equal(t[:, ::2, ::2], torch.from_numpy(m))  # nearest x2: every second pixel is the source
    np.save(tmp_path / "wrong.npy", m[:3])
    with pytest.raises(ValueError, match=r"wrong.npy: preset 'celebahq_edge' takes a \[15,H,W\] map, "
                                         r"got \(3, 32, 32\)"):
        prepare_semantic(tmp_path / "wrong.npy", cfg)
    (tmp_path / "edges.png").write_bytes(b"")
    with pytest.raises(ValueError, match=r"edges.png: preset 'celebahq_edge' takes a 15-channel map as .npy"):
        prepare_semantic(tmp_path / "edges.png", cfg)


def test_missing_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"exemplar not found: .*nope.jpg"):
        prepare_exemplar(tmp_path / "nope.jpg", 64)
    with pytest.raises(FileNotFoundError, match=r"label map not found: .*nope.png"):
        prepare_semantic(tmp_path / "nope.png", get_model_config("tiny"))
