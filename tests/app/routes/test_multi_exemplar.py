"""POST /api/translate_multi: the same numbers as Translator.translate_multi, gallery items as exemplars, the
pixel budget shared by every uploaded picture, and the errors."""

import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image

from ...conftest import require_module

require_module("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from cocosnet.app import AppSettings, create_app, load_gallery  # noqa: E402
from cocosnet.inference import Translator  # noqa: E402
from tests.app.conftest import b64png, ids_b64, photo  # noqa: E402

LABEL = np.full((64, 64), 6, np.uint8)  # sky over grass, a pond
LABEL[40:] = 7
LABEL[50:, 10:30] = 3


def png_array(b64: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(b64))))


@pytest.fixture(scope="module")
def translator(tiny_checkpoint):
    return Translator.from_pretrained(tiny_checkpoint, device="cpu")


@pytest.fixture(scope="module")
def client(translator, gallery_dir):
    gallery = load_gallery(gallery_dir, translator.cfg)
    settings = AppSettings(max_upload_bytes=300_000, max_pixels=12_000)
    with TestClient(create_app(translator, gallery, settings)) as c:
        yield c


def test_classes_and_regions_as_the_python_api(client, translator):
    a, b = photo(64, 1), photo(64, 2)
    region = np.zeros((64, 64), np.uint8)
    region[:8, :8] = 1
    body = {"label": ids_b64(LABEL), "exemplars": [{"image": b64png(a), "label": ids_b64(LABEL)},
                                                    {"image": b64png(b), "label": ids_b64(LABEL)}],
            "assign": {"sky": 1}, "regions": [{"mask": ids_b64(region), "exemplar": 0}]}
    r = client.post("/api/translate_multi", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    want = translator.translate_multi(LABEL, [a, b], [LABEL, LABEL], assign={"sky": 1},
                                      region_masks=[(region, 0)])
    expected = (LABEL == 6).astype(np.uint8)
    expected[:8, :8] = 0
    assert np.array_equal(png_array(out["assignment"]), expected)
    assert torch.equal(want.assignment[0], torch.from_numpy(expected.astype(np.int64)))
    assert np.array_equal(png_array(out["image"]), np.asarray(want.images()[0]))
    assert np.array_equal(png_array(out["warped"]), np.asarray(want.warped_images()[0]))
    assert out["exemplar_ids"] == [None, None] and (out["width"], out["height"]) == (64, 64)


def test_gallery_items_and_auto(client, gallery_dir):
    r = client.post("/api/translate_multi", json={"label": ids_b64(LABEL), "auto": True,
                                                  "exemplars": [{"id": "road3"}, {"id": "lake0"}]})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["exemplar_ids"] == ["road3", "lake0"]
    labels = [np.asarray(Image.open(gallery_dir / f"{n}_label.png").resize((64, 64), Image.NEAREST))
              for n in ("road3", "lake0")]
    got = png_array(out["assignment"])
    for cls in np.unique(LABEL):
        counts = [int((lab == cls).sum()) for lab in labels]
        assert (got[LABEL == cls] == int(np.argmax(counts))).all()


def test_errors_and_the_shared_pixel_budget(client):
    ex = [{"image": b64png(photo(64, 1)), "label": ids_b64(LABEL)}]
    post = lambda **kw: client.post("/api/translate_multi", json={"label": ids_b64(LABEL), "exemplars": ex, **kw})  # noqa: E731
    r = post(assign={"skyy": 0})
    assert r.status_code == 422 and "unknown class 'skyy'" in r.json()["detail"]
    r = post(assign={"sky": 1})
    assert r.status_code == 422 and "exemplar index 1 out of range: 1 exemplar (0..0)" in r.json()["detail"]
    r = post(regions=[{"mask": ids_b64(np.ones((32, 32))), "exemplar": 0}])
    assert r.status_code == 422 and "is 32x32 (WxH) but the input layout is 64x64" in r.json()["detail"]
    r = client.post("/api/translate_multi", json={"label": ids_b64(LABEL), "exemplars": [{"image": ex[0]["image"]}]})
    assert r.status_code == 422 and "needs each exemplar's label map: exemplars [0] have none" in r.json()["detail"]
    r = client.post("/api/translate_multi", json={"label": ids_b64(LABEL), "exemplars": [{"id": "nope"}]})
    assert r.status_code == 404
    r = client.post("/api/translate_multi", json={"label": ids_b64(LABEL), "exemplars": ex * 5})
    assert r.status_code == 422  # more than MAX_EXEMPLARS
    # 1 + 2 + 2 pictures share the budget of 3 at 12000 pixels each: 7200 pixels apiece, 64x64 = 4096 fits ...
    r = post(regions=[{"mask": ids_b64(np.ones((64, 64))), "exemplar": 0}] * 2)
    assert r.status_code == 200, r.text
    # ... but 1 + 2 + 8 pictures: 3272 pixels apiece, and the 64x64 label is refused from its header
    r = post(regions=[{"mask": ids_b64(np.ones((64, 64))), "exemplar": 0}] * 8)
    assert r.status_code == 413 and "more than the limit of 3272 pixels" in r.json()["detail"]


def test_the_route_is_published(client):
    spec = client.get("/openapi.json").json()
    op = spec["paths"]["/api/translate_multi"]["post"]
    assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("MultiTranslateRequest")
    assert {"200", "404", "413", "422", "503", "504"} <= set(op["responses"])
