"""The inspector in the JSON API: opt-in maps that are the Python API's, drawn by cocosnet.viz, and the classes
the exemplar lacks with their names and colours; without `inspect` the answer is the recorded one."""

import numpy as np
import pytest

from ..conftest import require_module
from .test_api import LABEL, ids_b64, png_of

require_module("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from cocosnet.app import create_app, load_gallery  # noqa: E402
from cocosnet.inference import Translator  # noqa: E402
from cocosnet.viz import confidence_image, flow_image  # noqa: E402


@pytest.fixture(scope="module")
def setup(tiny_checkpoint, gallery_dir):
    translator = Translator.from_pretrained(tiny_checkpoint, device="cpu")
    gallery = load_gallery(gallery_dir, translator.cfg)
    with TestClient(create_app(translator, gallery)) as client:
        yield client, translator, gallery


def test_inspect_returns_the_maps_and_the_missing_classes(setup):
    client, translator, gallery = setup
    item = gallery.get("lake0")
    label = LABEL.copy()
    label[44:50, 40:60] = 1  # a road
    painted = set(np.unique(label).tolist())
    lacking = sorted(painted - set(np.unique(item.label).tolist()))
    assert lacking, "the test's painting must have a class the lake scene lacks"
    plain = client.post("/api/translate", json={"label": ids_b64(label), "exemplar_id": "lake0"}).json()
    assert all(plain[k] is None for k in ("confidence", "flow", "flow_scale", "missing_classes"))
    body = client.post("/api/translate", json={"label": ids_b64(label), "exemplar_id": "lake0",
                                              "inspect": True}).json()
    assert body["image"] == plain["image"]  # the same output
    want = translator.translate(label, item.image, item.label, inspect=True)
    assert np.array_equal(np.asarray(png_of(body["confidence"])), np.asarray(confidence_image(want.confidence[0])))
    flow, scale = flow_image(want.flow[0])
    assert np.array_equal(np.asarray(png_of(body["flow"])), np.asarray(flow)) and body["flow_scale"] == round(scale, 3)
    classes = client.get("/api/classes").json()["classes"]
    assert body["missing_classes"] == [classes[i] for i in lacking]
    assert [c["name"] for c in body["missing_classes"]] == [c.name for c in want.missing_classes[0]]
