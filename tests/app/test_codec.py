"""Images in and out of the JSON API: base64 with byte limits, pixel limits read from the header, label maps as
class ids or class colours, PNG answers, and the inpainting blend."""

import base64
import io

import numpy as np
import pytest
from PIL import Image

from ..conftest import require_module

require_module("fastapi")
from cocosnet.app.codec import (  # noqa: E402
    InputError,
    decode_base64,
    decode_label,
    decode_photo,
    encode_png,
    ids_image,
    inpaint_blend,
    label_ids,
    open_image,
    png_bytes,
)
from cocosnet.label_resize import resize_label  # noqa: E402
from cocosnet.presets import INPUT_IMAGE_FORMATS  # noqa: E402
from cocosnet.viz import label_palette  # noqa: E402

from .conftest import photo, scene  # noqa: E402


def png(img: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def refused(status: int, fn, *args) -> str:
    with pytest.raises(InputError) as err:
        fn(*args)
    assert err.value.status == status and str(err.value) == err.value.detail
    return err.value.detail


def test_base64_with_or_without_a_data_url():
    data = png(photo(8))
    assert decode_base64(b64(data), "photo", 1000) == data
    assert decode_base64(f"  data:image/png;base64,{b64(data)}\n", "photo", 1000) == data


def test_base64_over_the_limit_is_refused_before_decoding():
    detail = refused(413, decode_base64, "A" * 4000, "exemplar", 1000)
    assert detail == "exemplar: about 3000 bytes, more than the limit of 1000 bytes"


def test_bad_base64_names_the_field():
    assert refused(422, decode_base64, "not base64!", "label", 1000).startswith("label: not valid base64")
    assert refused(422, decode_base64, "", "label", 1000) == "label: empty"


def test_pixels_are_counted_from_the_header():
    bomb = png(Image.new("L", (3000, 3000)))  # a few kB, 9 M pixels
    assert refused(413, open_image, bomb, "label", 1000 * 1000) == \
        "label: 3000x3000 is 9000000 pixels, more than the limit of 1000000 pixels"


def test_unreadable_truncated_and_unaccepted_formats():
    good = png(photo(16))
    assert "not a readable image" in refused(422, open_image, b"\x89PNG nonsense", "photo", 10**6)
    assert "corrupt or truncated" in refused(422, open_image, good[: len(good) // 2], "photo", 10**6)
    ppm = png(Image.new("RGB", (4, 4)), "PPM")
    assert refused(422, open_image, ppm, "photo", 10**6) == \
        "photo: PPM images are not accepted (PNG, JPEG, WEBP, BMP, GIF, TIFF)"


def test_an_oversized_png_text_chunk_is_refused_with_413():
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("comment", "a" * (PngImagePlugin.MAX_TEXT_CHUNK + 1), zip=True)  # a few kB compressed
    buf = io.BytesIO()
    photo(8).save(buf, format="PNG", pnginfo=info)
    assert refused(413, open_image, buf.getvalue(), "exemplar", 10**6) == (
        "exemplar: metadata over the reader's limit (Decompressed data too large for "
        "PngImagePlugin.MAX_TEXT_CHUNK)")


def test_photos_of_every_accepted_format_decode_to_rgb():
    img = photo(16)
    for fmt in INPUT_IMAGE_FORMATS:  # the CLI's set too (tests/inference/test_preprocess.py)
        out = decode_photo(b64(png(img.convert("RGBA") if fmt == "PNG" else img, fmt)), "exemplar", 10**6, 10**6)
        assert out.mode == "RGB" and out.size == (16, 16)
    assert np.array_equal(np.asarray(decode_photo(b64(png(img)), "exemplar", 10**6, 10**6)), np.asarray(img))


def test_label_maps_as_class_ids(tiny_cfg):
    ids = scene(6, 7, size=16)
    for mode in ("L", "P", "I"):
        img = Image.fromarray(ids.astype(np.uint8)).convert(mode) if mode != "P" else \
            Image.fromarray(ids.astype(np.uint8), "P")
        out = label_ids(img, tiny_cfg, "label")
        assert out.dtype == np.int64 and np.array_equal(out, ids), mode
    assert np.array_equal(decode_label(b64(png(ids_image(ids))), tiny_cfg, "label", 10**6, 10**6), ids)


def test_label_maps_in_the_class_colours(tiny_cfg):
    ids = scene(6, 3, size=16)
    colours = label_palette(tiny_cfg)[ids].astype(np.uint8)
    assert np.array_equal(label_ids(Image.fromarray(colours), tiny_cfg, "label"), ids)
    assert np.array_equal(label_ids(Image.fromarray(colours).convert("RGBA"), tiny_cfg, "label"), ids)
    colours[0, 0] = (1, 2, 3)
    detail = refused(422, label_ids, Image.fromarray(colours), tiny_cfg, "label")
    assert "1 colour(s) are not in it (#010203)" in detail and "single-channel PNG" in detail


def test_every_class_colour_maps_to_its_id(tiny_cfg):
    ids = np.random.default_rng(3).integers(0, tiny_cfg.label_nc, (24, 24))
    colours = label_palette(tiny_cfg)[ids].astype(np.uint8)
    out = label_ids(Image.fromarray(colours), tiny_cfg, "label")
    assert out.dtype == np.int64 and np.array_equal(out, ids)


def test_grey_rgb_label_maps_carry_ids_as_the_cli_reads_them(tiny_cfg):
    ids = scene(6, 7, size=16)
    grey = np.repeat(ids.astype(np.uint8)[..., None], 3, -1)
    assert np.array_equal(label_ids(Image.fromarray(grey), tiny_cfg, "label"), ids)


def test_label_ids_outside_the_classes_are_named(tiny_cfg):
    ids = scene(6, 7, size=8)
    ids[0, 0], ids[1, 1] = 12, 200
    assert refused(422, label_ids, Image.fromarray(ids.astype(np.uint8)), tiny_cfg, "exemplar_label") == \
        "exemplar_label: label ids [12, 200] out of range: this checkpoint has 10 classes (ids 0..9)"
    cmyk = Image.new("CMYK", (4, 4))
    assert "mode CMYK is not a label map" in refused(422, label_ids, cmyk, tiny_cfg, "label")


def test_dont_care_255_becomes_the_dont_care_class():
    from cocosnet.presets import get_model_config

    cfg = get_model_config("ade20k")
    ids = np.array([[0, 255], [149, 3]], np.uint8)
    assert label_ids(Image.fromarray(ids), cfg, "label").tolist() == [[0, cfg.dontcare_id], [149, 3]]


def test_png_answers_round_trip():
    img = photo(12)
    assert Image.open(io.BytesIO(png_bytes(img))).format == "PNG"
    back = Image.open(io.BytesIO(base64.b64decode(encode_png(img))))
    assert np.array_equal(np.asarray(back), np.asarray(img))
    ids = scene(2, 9, size=6)
    out = ids_image(ids)
    assert out.mode == "L" and np.array_equal(np.asarray(out), ids)


def test_resize_label_is_nearest_and_keeps_the_right_size_as_is():
    ids = scene(1, 8, size=4, horizon=2)
    assert resize_label(ids, 4) is ids
    big = resize_label(ids, 8)
    assert big.dtype == np.int64 and np.array_equal(big, np.kron(ids, np.ones((2, 2), np.int64)))
    assert np.array_equal(resize_label(big, 4), ids)


def test_inpaint_blend_keeps_the_photo_where_the_labels_did_not_change():
    original, generated = photo(32, seed=1), photo(32, seed=2)
    label = scene(6, 7, size=32)
    same, mask = inpaint_blend(generated, original, label, label, feather=4)
    assert np.array_equal(np.asarray(same), np.asarray(original)) and np.asarray(mask).max() == 0
    edited = label.copy()
    edited[8:16, 8:16] = 2
    out, mask = inpaint_blend(generated, original, edited, label, feather=0)
    m = np.asarray(mask)
    assert mask.mode == "L" and set(np.unique(m)) == {0, 255} and (m == 255).sum() == 64
    assert np.array_equal(np.asarray(out)[m == 255], np.asarray(generated)[m == 255])
    assert np.array_equal(np.asarray(out)[m == 0], np.asarray(original)[m == 0])
    _, soft = inpaint_blend(generated, original, edited, label, feather=4)
    s = np.asarray(soft)
    assert s[12, 12] == 255 and s[0, 0] == 0 and 0 < s[12, 6] < 255  # grown by 2, then blurred
