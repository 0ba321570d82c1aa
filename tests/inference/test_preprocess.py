"""inference/preprocess.py: a preset's inputs from paths, pictures, arrays and tensors, with errors that name them."""

import re
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from cocosnet.data.errors import DataError
from cocosnet.inference.preprocess import prepare_exemplar, prepare_semantic
from cocosnet.presets import INPUT_IMAGE_FORMATS, MAX_INPUT_PIXELS, get_model_config
from cocosnet.viz import label_palette


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


def header_only_png(path, width, height):
    """A PNG whose header claims width x height and whose pixel data is missing: only a check that reads the
    header before decoding can name its size (decoding would fail, or would cost width*height bytes)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) +
                     chunk(b"IEND", b""))
    return path


def test_pictures_over_the_pixel_limit_are_refused_from_the_header(tmp_path):
    cfg = get_model_config("tiny")
    side = int(MAX_INPUT_PIXELS ** 0.5) + 1  # one row and column over the API's limit
    big = header_only_png(tmp_path / "big.png", side, side)
    want = f"{big}: {side}x{side} is {side * side} pixels, more than the limit of {MAX_INPUT_PIXELS} pixels"
    with pytest.raises(DataError, match=re.escape(want)):
        prepare_exemplar(big, 64)
    with pytest.raises(DataError, match=re.escape(want)):
        prepare_semantic(big, cfg)
    bomb = header_only_png(tmp_path / "bomb.png", 20000, 20000)  # past PIL's own bomb limit too
    with pytest.raises(DataError, match=f"{bomb}: refused from its header as a decompression bomb"):
        prepare_exemplar(bomb, 64)


def test_the_cli_takes_the_picture_formats_the_api_takes(tmp_path):
    rgb = np.zeros((16, 16, 3), np.uint8)
    rgb[:8] = (200, 40, 40)
    for fmt in INPUT_IMAGE_FORMATS:
        path = tmp_path / f"ex.{fmt.lower()}"
        Image.fromarray(rgb).save(path, format=fmt)
        assert prepare_exemplar(path, 16).shape == (3, 16, 16), fmt
    Image.fromarray(rgb).save(tmp_path / "ex.ppm", format="PPM")
    with pytest.raises(DataError, match="PPM pictures are not accepted .PNG, JPEG, WEBP, BMP, GIF, TIFF."):
        prepare_exemplar(tmp_path / "ex.ppm", 16)


def test_colour_coded_label_maps_give_the_ids_as_in_the_api(tmp_path):
    """The one conversion (cocosnet.viz.ids_from_colours) the API uses too (tests/app/test_codec.py)."""
    cfg = get_model_config("tiny")
    ids = np.zeros((32, 32), np.uint8)
    ids[:16], ids[16:, :8] = 6, 3
    Image.fromarray(ids).save(tmp_path / "ids.png")
    Image.fromarray(label_palette(cfg)[ids].astype(np.uint8)).save(tmp_path / "colours.png")
    by_ids = prepare_semantic(tmp_path / "ids.png", cfg)
    assert torch.equal(prepare_semantic(tmp_path / "colours.png", cfg), by_ids)
    off = label_palette(cfg)[ids].astype(np.uint8)
    off[0, 0] = (1, 2, 3)
    Image.fromarray(off).save(tmp_path / "off.png")
    with pytest.raises(DataError, match=r"off.png: an RGB label map must use the palette colours.*#010203"):
        prepare_semantic(tmp_path / "off.png", cfg)
