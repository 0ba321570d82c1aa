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
