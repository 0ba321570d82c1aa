"""The web app's JSON API: every endpoint, and every kind of bad input a client can send."""

import base64
import io
import threading
import time

import httpx
import numpy as np
import pytest
from PIL import Image

from ..conftest import require_module  # noqa: E402

require_module("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from cocosnet.app import AppSettings, BackgroundServer, create_app, load_gallery  # noqa: E402
from cocosnet.data.retrieval import class_histograms as label_features  # noqa: E402
from cocosnet.data.retrieval import histogram_intersection as similarity  # noqa: E402
from cocosnet.inference import Translator  # noqa: E402


def b64png(img: Image.Image, fmt: str = "PNG") -> str:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return base64.b64encode(buf.getvalue()).decode()


def ids_b64(ids: np.ndarray) -> str:
    return b64png(Image.fromarray(ids.astype(np.uint8)))


def png_of(b64: str) -> Image.Image:
    img = Image.open(io.BytesIO(base64.b64decode(b64)))
    assert img.format == "PNG"
    return img


LABEL = np.full((64, 64), 6, np.uint8)
LABEL[40:] = 7
LABEL[50:, 10:30] = 3


class SlowTranslator:
    """The real translator behind a delay, to fill the queue on purpose."""

    def __init__(self, translator, delay: float):
        self.inner, self.delay = translator, delay
        self.cfg, self.device = translator.cfg, translator.device

    def translate(self, *args):
        time.sleep(self.delay)
        return self.inner.translate(*args)


@pytest.fixture(scope="module")
def translator(tiny_checkpoint):
    return Translator.from_pretrained(tiny_checkpoint, device="cpu")


@pytest.fixture(scope="module")
def gallery(translator, gallery_dir):
    return load_gallery(gallery_dir, translator.cfg)


@pytest.fixture(scope="module")
def client(translator, gallery):
    settings = AppSettings(max_upload_bytes=300_000, max_pixels=1_000_000)
    with TestClient(create_app(translator, gallery, settings)) as c:
        yield c


def test_classes_health_and_openapi(client):
    info = client.get("/api/classes").json()
    assert info["image_size"] == 64 and info["label_nc"] == 10 and info["needs_exemplar_label"]
    assert [c["name"] for c in info["classes"]][:3] == ["unlabeled", "road", "rock"]
    assert info["classes"][6] == {"id": 6, "name": "sky", "color": "#87c8eb"}
    health = client.get("/api/health").json()
    assert health["status"] == "ok" and health["gallery_items"] == 5 and health["queue"]["slots"] == 1
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/translate", "/api/retrieve", "/api/gallery", "/api/classes", "/api/health", "/api/label"):
        assert path in paths
    assert client.get("/docs").status_code == 404  # Swagger UI would come from a CDN
    page = client.get("/")
    assert page.status_code == 200 and "CoCosNet" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/static/app.js").status_code == 200


def test_gallery_by_id_only(client):
    items = client.get("/api/gallery").json()["items"]
    assert [i["id"] for i in items] == ["coast1", "coast4", "lake0", "road3", "valley2"]
    img = Image.open(io.BytesIO(client.get(items[0]["image"]).content))
    assert img.size == (64, 64) and img.mode == "RGB"
    label = np.asarray(Image.open(io.BytesIO(client.get(items[0]["label"]).content)))
    assert label.shape == (64, 64) and label.max() < 10
    assert client.get(items[0]["thumbnail"]).status_code == 200
    assert client.get("/api/gallery/nope/image.png").status_code == 404
    for bad in ("/api/gallery/..%2F..%2Fetc/image.png", "/api/gallery/lake0/secret.png", "/api/gallery/../x.png"):
        assert client.get(bad).status_code in (404, 422)


def test_translate_with_a_gallery_item_and_with_uploads(client, gallery):
    out = client.post("/api/translate", json={"label": ids_b64(LABEL), "exemplar_id": "lake0"})
    assert out.status_code == 200, out.text
    body = out.json()
    assert png_of(body["image"]).size == (64, 64) and png_of(body["warped"]).size == (64, 64)
    assert body["width"] == body["height"] == 64 and body["exemplar_id"] == "lake0" and body["mask"] is None
    item = gallery.get("lake0")
    up = client.post("/api/translate", json={
        "label": "data:image/png;base64," + ids_b64(LABEL), "exemplar": b64png(item.image, "JPEG"),
        "exemplar_label": ids_b64(item.label), "return_warped": False})
    assert up.status_code == 200, up.text
    assert up.json()["warped"] is None and up.json()["exemplar_id"] is None
    # no exemplar at all: the best retrieved gallery item
    auto = client.post("/api/translate", json={"label": ids_b64(gallery.get("coast4").label)})
    assert auto.status_code == 200 and auto.json()["exemplar_id"] == "coast4"


def test_missing_and_conflicting_inputs(client, gallery):
    item = gallery.get("lake0")
    r = client.post("/api/translate", json={"label": ids_b64(LABEL), "exemplar": b64png(item.image)})
    assert r.status_code == 422 and "exemplar's label map" in r.json()["detail"]
    r = client.post("/api/translate", json={"label": ids_b64(LABEL), "exemplar": b64png(item.image),
                                            "exemplar_label": ids_b64(item.label), "exemplar_id": "lake0"})
    assert r.status_code == 422 and "not both" in r.json()["detail"]
    assert client.post("/api/translate", json={"exemplar_id": "lake0"}).status_code == 422
    assert client.post("/api/translate", json={"label": ids_b64(LABEL), "exemplar_id": "../x"}).status_code == 422
    assert client.post("/api/translate", json={"label": ids_b64(LABEL), "exemplar_id": "gone"}).status_code == 404


def test_inpainting_keeps_the_unedited_region(client, gallery):
    item = gallery.get("valley2")
    same = client.post("/api/translate", json={"label": ids_b64(item.label), "exemplar_id": "valley2",
                                               "inpaint": True}).json()
    assert np.array_equal(np.asarray(png_of(same["image"])), np.asarray(item.image))
    assert np.asarray(png_of(same["mask"])).max() == 0
    edited = item.label.copy()
    edited[20:30, 20:30] = 2  # a rock
    out = client.post("/api/translate", json={"label": ids_b64(edited), "exemplar_id": "valley2", "inpaint": True,
                                              "feather": 4}).json()
    img, orig = np.asarray(png_of(out["image"])).astype(int), np.asarray(item.image).astype(int)
    mask = np.asarray(png_of(out["mask"]))
    assert mask[25, 25] == 255 and mask[0, 0] == 0 and 0 < mask[20, 17] < 255  # feathered edge
    assert np.array_equal(img[mask == 0], orig[mask == 0])
    assert np.abs(img[22:28, 22:28] - orig[22:28, 22:28]).mean() > 1


def test_oversized_uploads_are_refused(client, gallery):
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (400, 400, 3), dtype=np.uint8))
    big = b64png(noise)  # ~480 kB of incompressible PNG, over the 300 kB limit
    r = client.post("/api/translate", json={"label": ids_b64(LABEL), "exemplar": big,
                                            "exemplar_label": ids_b64(LABEL)})
    assert r.status_code == 413 and "limit of 300000 bytes" in r.json()["detail"]
    # the whole body, by Content-Length, before anything is parsed
    r = client.post("/api/translate", content=b"x" * 2_000_000, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "request body" in r.json()["detail"]
    # ... and without one (chunked), while it is read
    r = client.post("/api/translate", content=iter([b"x" * 500_000] * 4), headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "request body" in r.json()["detail"]


def test_decompression_bombs_are_refused_from_the_header(client):
    bomb = Image.new("L", (4000, 4000))  # 16 M pixels, a few kB as PNG; the limit here is 1 M
    r = client.post("/api/translate", json={"label": b64png(bomb), "exemplar_id": "lake0"})
    assert r.status_code == 413 and "4000x4000" in r.json()["detail"] and "pixels" in r.json()["detail"]
    r = client.post("/api/retrieve", json={"label": b64png(bomb)})
    assert r.status_code == 413


def test_corrupt_images(client):
    good = base64.b64decode(ids_b64(LABEL))
    cases = {
        "random bytes": base64.b64encode(np.random.default_rng(0).bytes(500)).decode(),
        "truncated PNG": base64.b64encode(good[: len(good) // 2]).decode(),
        "not base64": "this is not base64!",
        "empty": "",
    }
    for what, label in cases.items():
        r = client.post("/api/translate", json={"label": label, "exemplar_id": "lake0"})
        assert r.status_code == 422, what
        assert r.json()["detail"].startswith("label:"), (what, r.json())
    ppm = io.BytesIO()  # a format neither the API nor the CLI takes (GIF and TIFF are taken by both)
    Image.new("L", (8, 8)).save(ppm, format="PPM")
    r = client.post("/api/translate", json={"label": base64.b64encode(ppm.getvalue()).decode(), "exemplar_id": "x"})
    assert r.status_code == 422 and "PPM" in r.json()["detail"]


def test_label_ids_out_of_range_are_named(client):
    bad = LABEL.copy()
    bad[0, 0], bad[1, 1] = 12, 200
    r = client.post("/api/translate", json={"label": ids_b64(bad), "exemplar_id": "lake0"})
    assert r.status_code == 422
    assert "[12, 200]" in r.json()["detail"] and "0..9" in r.json()["detail"]
    r = client.post("/api/label", json={"label": ids_b64(bad)})
    assert r.status_code == 422 and "[12, 200]" in r.json()["detail"]


def test_label_endpoint_resizes_and_reads_class_colours(client):
    info = client.get("/api/classes").json()
    colours = np.array([[int(c["color"][i:i + 2], 16) for i in (1, 3, 5)] for c in info["classes"]], np.uint8)
    small = LABEL[::2, ::2]
    r = client.post("/api/label", json={"label": b64png(Image.fromarray(colours[small]))})
    assert r.status_code == 200, r.text
    ids = np.asarray(png_of(r.json()["label"]))
    assert ids.shape == (64, 64) and r.json()["classes_present"] == [3, 6, 7]
    assert np.array_equal(ids[::2, ::2], small)
    off = colours[small].copy()
    off[0, 0] = (1, 2, 3)
    r = client.post("/api/label", json={"label": b64png(Image.fromarray(off))})
    assert r.status_code == 422 and "#010203" in r.json()["detail"]


def test_retrieval_ranks_the_same_layout_first(client, gallery):
    for item_id in ("coast1", "road3", "lake0"):
        items = client.post("/api/retrieve", json={"label": ids_b64(gallery.get(item_id).label), "k": 3}).json()
        assert items["items"][0]["id"] == item_id and items["items"][0]["score"] == 1.0
        assert len(items["items"]) == 3 and items["items"][1]["score"] < 1.0
    a = label_features(np.zeros((8, 8), np.int64), 10)
    b = label_features(np.ones((8, 8), np.int64), 10)
    assert similarity(a, a) == 1.0 and similarity(a, b) == 0.0


def _flood(url: str, n: int, body: dict) -> list[httpx.Response]:
    results: list = [None] * n

    def one(i):
        with httpx.Client(timeout=30) as c:
            results[i] = c.post(f"{url}/api/translate", json=body)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_a_flood_gets_503_with_retry_after_and_the_server_survives(translator, gallery):
    app = create_app(SlowTranslator(translator, 0.4), gallery, AppSettings(slots=1, waiting=1, timeout=30))
    body = {"label": ids_b64(LABEL), "exemplar_id": "lake0"}
    with BackgroundServer(app) as url:
        results = _flood(url, 12, body)
        codes = sorted(r.status_code for r in results)
        assert set(codes) == {200, 503} and codes.count(200) >= 2 and codes.count(503) >= 6, codes
        for r in results:
            if r.status_code == 503:
                assert int(r.headers["Retry-After"]) >= 1 and "busy" in r.json()["detail"]
        with httpx.Client(timeout=30) as c:
            health = c.get(f"{url}/api/health").json()
            assert health["status"] == "ok" and health["queue"]["rejected"] == codes.count(503)
            assert c.post(f"{url}/api/translate", json=body).status_code == 200
            assert c.get(f"{url}/api/health").json()["queue"]["pending"] == 0


def test_a_slow_request_times_out_with_504(translator, gallery):
    app = create_app(SlowTranslator(translator, 1.0), gallery, AppSettings(slots=1, waiting=2, timeout=0.2))
    with TestClient(app) as c:
        r = c.post("/api/translate", json={"label": ids_b64(LABEL), "exemplar_id": "lake0"})
        assert r.status_code == 504 and "0.2 s" in r.json()["detail"] and "Retry-After" in r.headers
        # the running job finishes (1 s of sleep + the model, slower on a busy machine) and frees its slot
        deadline = time.monotonic() + 30
        while c.get("/api/health").json()["queue"]["pending"] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert c.get("/api/health").json()["queue"]["pending"] == 0


def test_gallery_folder_layouts(tmp_path, translator, gallery_dir):
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    for i, name in enumerate(["a b", "c"]):
        Image.open(gallery_dir / "lake0.png").save(tmp_path / "images" / f"{name}.jpg")
        label = np.asarray(Image.open(gallery_dir / "lake0_label.png")).copy()
        if i:
            label[0, 0] = 50  # out of range: skipped with a warning
        Image.fromarray(label).save(tmp_path / "labels" / f"{name}.png")
    Image.open(gallery_dir / "lake0.png").save(tmp_path / "images" / "unpaired.png")
    g = load_gallery(tmp_path, translator.cfg)
    assert list(g.items) == ["a-b"]
    with pytest.raises(FileNotFoundError):
        load_gallery(tmp_path / "missing", translator.cfg)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no \\(photo, label\\) pairs"):
        load_gallery(tmp_path / "empty", translator.cfg)
