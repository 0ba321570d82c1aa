"""Each router on its own, on a bare FastAPI app with a hand-built `AppState` and no model; and the translate
route's two steps (`translation_inputs`, `run_translation`) as plain functions."""

import io

import numpy as np
import pytest
from PIL import Image

from ..conftest import require_module
from .conftest import b64png, ids_b64, photo, scene

require_module("fastapi")
from fastapi import FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from cocosnet.app.admission import add_admission  # noqa: E402
from cocosnet.app.codec import InputError  # noqa: E402
from cocosnet.app.gallery import Gallery, GalleryItem  # noqa: E402
from cocosnet.app.routes import gallery as gallery_routes  # noqa: E402
from cocosnet.app.routes import info, pages  # noqa: E402
from cocosnet.app.routes.translate import run_translation, translation_inputs  # noqa: E402
from cocosnet.app.schemas import TranslateRequest  # noqa: E402
from cocosnet.app.state import AppSettings, AppState  # noqa: E402

SKY, WATER, GRASS, ROCK = 6, 3, 7, 2


def png_of(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


@pytest.fixture
def state(fake_translator, tiny_cfg):
    items = [GalleryItem(id="lake", name="a lake", image=photo(seed=1), label=scene(SKY, WATER)),
             GalleryItem(id="meadow", name="a meadow", image=photo(48, seed=2), label=scene(SKY, GRASS, size=48,
                                                                                          horizon=24))]
    return AppState.build(fake_translator, Gallery(items, tiny_cfg), AppSettings(max_retrieve=1))


def client_of(state: AppState, router) -> TestClient:
    app = FastAPI()
    app.state.cocosnet = state
    add_admission(app, state.settings.max_body_bytes)
    app.include_router(router)
    return TestClient(app)


def test_info_router(state):
    c = client_of(state, info.router)
    assert c.get("/api/health").json() == {
        "status": "ok", "preset": "tiny", "device": "cpu", "gallery_items": 2,
        "queue": {"slots": 1, "waiting_places": 4, "pending": 0, "completed": 0, "rejected": 0, "timed_out": 0}}
    classes = c.get("/api/classes").json()
    assert classes["image_size"] == 64 and classes["needs_exemplar_label"] is True
    assert classes["classes"][SKY] == {"id": SKY, "name": "sky", "color": "#87c8eb"}
    assert c.get("/api/gallery").status_code == 404  # another router's


def test_gallery_router_lists_serves_and_ranks(state):
    c = client_of(state, gallery_routes.router)
    items = c.get("/api/gallery").json()["items"]
    assert [i["id"] for i in items] == ["lake", "meadow"]
    assert items[1] == {"id": "meadow", "name": "a meadow", "thumbnail": "/api/gallery/meadow/thumb.png",
                        "image": "/api/gallery/meadow/image.png", "label": "/api/gallery/meadow/label.png",
                        "label_color": "/api/gallery/meadow/label_color.png", "score": None}
    label = png_of(c.get("/api/gallery/meadow/label.png").content)
    assert np.array_equal(label, scene(SKY, GRASS))  # brought to the model's 64x64
    assert png_of(c.get("/api/gallery/meadow/label_color.png").content)[0, 0].tolist() == [135, 200, 235]
    assert png_of(c.get("/api/gallery/lake/thumb.png").content).shape == (96, 96, 3)
    image = c.get("/api/gallery/lake/image.png")
    assert image.headers["cache-control"] == "max-age=3600" and png_of(image.content).shape == (64, 64, 3)
    assert c.get("/api/gallery/river/image.png").json() == {"detail": "no gallery item 'river'"}
    # the query is half sky, half grass: the meadow exactly, the lake in its sky; max_retrieve=1 caps k
    query = ids_b64(scene(SKY, GRASS, size=32, horizon=16))
    assert [(i["id"], i["score"]) for i in c.post("/api/retrieve", json={"label": query, "k": 5}).json()["items"]] \
        == [("meadow", 1.0)]
    state.settings.max_retrieve = 5
    ranked = c.post("/api/retrieve", json={"label": query, "k": 5}).json()["items"]
    assert [(i["id"], i["score"]) for i in ranked] == [("meadow", 1.0), ("lake", 0.5)]


def test_pages_router_serves_the_page_uncached():
    app = FastAPI()
    app.include_router(pages.router)
    page = TestClient(app).get("/")
    assert page.status_code == 200 and "CoCosNet" in page.text and page.headers["cache-control"] == "no-cache"


def request(**fields) -> TranslateRequest:
    return TranslateRequest(label=ids_b64(scene(SKY, GRASS)), **fields)


def test_translation_inputs_choose_the_exemplar(state):
    sem, ex, ex_sem, item_id = translation_inputs(state, request(exemplar_id="lake"))
    assert item_id == "lake" and ex is state.gallery.get("lake").image and np.array_equal(sem, scene(SKY, GRASS))
    assert translation_inputs(state, request())[3] == "meadow"  # the best retrieved item
    up = photo(40, seed=3)
    sem, ex, ex_sem, item_id = translation_inputs(state, request(exemplar=b64png(up),
                                                                 exemplar_label=ids_b64(scene(SKY, ROCK))))
    assert item_id is None and ex.size == (40, 40) and np.array_equal(ex_sem, scene(SKY, ROCK))


@pytest.mark.parametrize("fields, message", [
    ({"exemplar": "x", "exemplar_id": "lake"}, "give exemplar (+ exemplar_label) or exemplar_id, not both"),
    ({"exemplar": "PHOTO"}, "this checkpoint (tiny) needs the exemplar's label map: send exemplar_label with the "
                            "exemplar photo, or use a gallery item"),
    ({"exemplar_id": "river"}, "no gallery item 'river'"),
])
def test_translation_inputs_refuse_what_cannot_be_translated(state, fields, message):
    fields = {k: b64png(photo(8)) if v == "PHOTO" else v for k, v in fields.items()}
    with pytest.raises(InputError) as err:
        translation_inputs(state, request(**fields))
    assert err.value.detail == message


def test_without_a_gallery_an_exemplar_must_come_with_the_request(fake_translator):
    state = AppState.build(fake_translator)
    with pytest.raises(InputError, match="no exemplar given and the gallery is empty"):
        translation_inputs(state, request())


def test_inpainting_needs_the_exemplar_label(state, monkeypatch):
    monkeypatch.setattr(AppState, "needs_exemplar_label", False)  # a checkpoint without maskmix
    with pytest.raises(InputError, match="inpainting needs exemplar_label"):
        translation_inputs(state, request(exemplar=b64png(photo(8)), inpaint=True))


def test_run_translation_returns_the_pictures_asked_for(state):
    sem, ex, ex_sem, _ = translation_inputs(state, request(exemplar_id="lake"))
    image, warped, mask, seconds = run_translation(state, request(exemplar_id="lake"), sem, ex, ex_sem)
    assert image.size == warped.size == (64, 64) and mask is None and seconds >= 0
    assert np.array_equal(np.asarray(warped), np.asarray(image)[:, ::-1])
    image, warped, mask, _ = run_translation(state, request(return_warped=False, inpaint=True, feather=0), sem, ex,
                                             ex_sem)
    assert warped is None and np.array_equal(np.asarray(mask) == 255, sem != ex_sem)
    with pytest.raises(InputError, match="nothing painted") as err:
        run_translation(state, request(), np.zeros((64, 64), np.int64), ex, ex_sem)
    assert err.value.status == 422
