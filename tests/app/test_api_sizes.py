"""The JSON API translates a non-square label map at its own aspect ratio (short side: the model's size)."""

import base64
import io

import numpy as np
from PIL import Image

from ..conftest import require_module  # noqa: E402

require_module("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from cocosnet.app import AppSettings, create_app, load_gallery  # noqa: E402
from cocosnet.inference import Translator  # noqa: E402


def b64png(img: Image.Image) -> str:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


def test_a_non_square_label_map_gives_a_non_square_image(tiny_checkpoint, gallery_dir):
    translator = Translator.from_pretrained(tiny_checkpoint, device="cpu")
    label = np.full((64, 96), 6, np.uint8)
    label[40:] = 7
    photo = Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 96, 3), dtype=np.uint8))
    body = {"label": b64png(Image.fromarray(label)), "exemplar": b64png(photo),
            "exemplar_label": b64png(Image.fromarray(label))}
    with TestClient(create_app(translator, load_gallery(gallery_dir, translator.cfg), AppSettings())) as client:
        res = client.post("/api/translate", json=body)
    assert res.status_code == 200, res.text
    out = res.json()
    assert (out["width"], out["height"]) == (96, 64)
    assert Image.open(io.BytesIO(base64.b64decode(out["image"]))).size == (96, 64)


def test_the_painters_load_keeps_a_non_square_label_maps_aspect_ratio(tiny_checkpoint, gallery_dir):
    """/api/label gives a label map the size /api/translate gives it: short side 64, aspect kept; a square one
    64²; an aspect ratio the model cannot take is refused with the size named."""
    translator = Translator.from_pretrained(tiny_checkpoint, device="cpu")
    rng = np.random.default_rng(1)
    wide = rng.integers(0, 10, (40, 120), dtype=np.uint8)  # 3:1 -> 64x192
    square = rng.integers(0, 10, (100, 100), dtype=np.uint8)
    with TestClient(create_app(translator, load_gallery(gallery_dir, translator.cfg), AppSettings())) as client:
        answers = [client.post("/api/label", json={"label": b64png(Image.fromarray(m))}) for m in (wide, square)]
        too_long = client.post("/api/label", json={"label": b64png(Image.fromarray(np.zeros((1, 5000), np.uint8)))})
    for res in answers:
        assert res.status_code == 200, res.text
    got = [np.asarray(Image.open(io.BytesIO(base64.b64decode(r.json()["label"])))) for r in answers]
    assert got[0].shape == (64, 192) and got[1].shape == (64, 64)
    # PIL's nearest (the pixel under each output pixel's centre): output column c samples input column c * 120/192
    cols = np.floor((np.arange(192) + 0.5) * 120 / 192).astype(int)
    rows = np.floor((np.arange(64) + 0.5) * 40 / 64).astype(int)
    assert np.array_equal(got[0], wide[rows][:, cols])
    assert answers[0].json()["classes_present"] == np.unique(got[0]).tolist()
    assert too_long.status_code == 422
    assert "64x320000" in too_long.json()["detail"] and "over the limit" in too_long.json()["detail"]
