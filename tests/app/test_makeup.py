"""The makeup route (/api/makeup) on the astronaut, through the whole app with a stand-in model: the answer, its
limits and its named errors."""

import base64
import io

import numpy as np
import pytest
from PIL import Image

from ..conftest import require_module
from .conftest import b64png

require_module("fastapi")
require_module("mediapipe")
from fastapi.testclient import TestClient  # noqa: E402

from cocosnet.app.server import create_app  # noqa: E402
from cocosnet.app.state import AppSettings  # noqa: E402


@pytest.fixture(scope="module")
def portrait():
    data = require_module("skimage.data")
    img = data.astronaut()[20:276, 96:352].copy()  # the face, 256x256
    layer = np.zeros((256, 256, 4), np.uint8)
    layer[110:140, 105:155] = (200, 20, 60, 255)  # a band over the mouth
    return Image.fromarray(img), Image.fromarray(layer, "RGBA")


@pytest.fixture
def client(fake_translator):
    return TestClient(create_app(fake_translator, settings=AppSettings(max_pixels=300_000)))


def png(b64: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(b64))))


def test_makeup_answers_the_made_up_target_and_the_warped_layer(client, portrait):
    ref, layer = portrait
    r = client.post("/api/makeup", json={"reference": b64png(ref), "layer": b64png(layer), "target": b64png(ref),
                                          "blend": "normal", "opacity": 1.0})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["correspondence"].startswith("MediaPipe Face Mesh landmarks + piecewise-affine warp")
    assert (body["width"], body["height"]) == (256, 256) and body["notes"] == []
    warped, image = png(body["layer"]), png(body["image"])
    assert warped.shape == (256, 256, 4) and image.shape == (256, 256, 3)
    # onto itself: the layer comes back where it was painted (inside the face mesh), exactly
    inside = warped[..., 3] > 0
    assert inside.sum() > 1000 and (warped[inside] == np.asarray(layer)[inside]).all()
    assert (image[inside] == (200, 20, 60)).all() and (image[~inside] == np.asarray(ref)[~inside]).all()


@pytest.mark.parametrize("change,status,message", [
    ({"target": "grey"}, 422, "target: no face found"),
    ({"layer": "rgb"}, 422, "the makeup layer has no alpha channel (mode RGB)"),
    ({"layer": "small"}, 422, "the layer is 128x128 but the reference portrait is 256x256"),
    ({"layer": "not base64!"}, 422, "layer: not valid base64"),
    ({"target": "big"}, 413, "target: 600x600 is 360000 pixels, more than the limit of 300000 pixels"),
    ({"opacity": 2}, 422, "opacity"),
])
def test_makeup_errors_name_the_picture(client, portrait, change, status, message):
    ref, layer = portrait
    pictures = {"grey": b64png(Image.new("RGB", (200, 200), (128, 128, 128))), "rgb": b64png(ref),
                "small": b64png(layer.resize((128, 128))), "big": b64png(Image.new("RGB", (600, 600)))}
    body = {"reference": b64png(ref), "layer": b64png(layer), "target": b64png(ref)}
    body.update({k: pictures.get(v, v) for k, v in change.items()})
    r = client.post("/api/makeup", json=body)
    assert r.status_code == status and message in r.text, r.text
