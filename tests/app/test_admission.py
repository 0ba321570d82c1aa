"""What a refused request is told: 503 + Retry-After when the queue is full, 504 + Retry-After past the timeout,
413 for bodies over the limit (checked before the app reads them), and an `InputError`'s own status."""

import asyncio
import base64
import io
import json
import threading

import httpx
import pytest

from ..conftest import require_module
from .conftest import FakeTranslator, ids_b64, photo, scene

require_module("fastapi")
from cocosnet.app import AppSettings, BackgroundServer, create_app  # noqa: E402
from cocosnet.app.admission import BodyLimit  # noqa: E402
from cocosnet.app.gallery import Gallery, GalleryItem  # noqa: E402


@pytest.fixture
def gated(tiny_cfg):
    """An app whose translator waits for `translator.gate`, with one gallery item ("sea")."""
    translator = FakeTranslator(tiny_cfg, threading.Event())
    gallery = Gallery([GalleryItem(id="sea", name="sea", image=photo(), label=scene(6, 5))], tiny_cfg)
    return translator, gallery


BODY = {"label": ids_b64(scene(6, 7)), "exemplar_id": "sea"}


def post_in_thread(url: str, results: list) -> threading.Thread:
    def post():
        with httpx.Client(timeout=60) as client:
            results.append(client.post(f"{url}/api/translate", json=BODY))

    thread = threading.Thread(target=post)
    thread.start()
    return thread


def test_a_full_queue_answers_503_with_retry_after(gated):
    translator, gallery = gated
    app = create_app(translator, gallery, AppSettings(slots=1, waiting=0, timeout=60))
    with BackgroundServer(app) as url, httpx.Client(timeout=60) as client:
        first: list = []
        thread = post_in_thread(url, first)
        assert translator.started.wait(30)  # the one slot is taken, and there is no waiting place
        refused = client.post(f"{url}/api/translate", json=BODY)
        assert refused.status_code == 503 and int(refused.headers["Retry-After"]) >= 1
        assert refused.json()["detail"].startswith("the server is busy (all inference slots and waiting places")
        translator.gate.set()
        thread.join(60)
        assert first[0].status_code == 200 and first[0].json()["exemplar_id"] == "sea"
        queue = client.get(f"{url}/api/health").json()["queue"]
        assert (queue["completed"], queue["rejected"], queue["pending"]) == (1, 1, 0)


def test_a_request_past_the_timeout_answers_504_with_retry_after(gated):
    translator, gallery = gated
    app = create_app(translator, gallery, AppSettings(slots=1, waiting=1, timeout=0.5))
    with BackgroundServer(app) as url, httpx.Client(timeout=60) as client:
        late = client.post(f"{url}/api/translate", json=BODY)
        assert late.status_code == 504 and late.json() == {"detail": "the request took longer than 0.5 s"}
        assert int(late.headers["Retry-After"]) >= 1
        translator.gate.set()


def test_input_errors_answer_with_their_own_status(gated):
    translator, gallery = gated
    translator.gate.set()
    app = create_app(translator, gallery)
    with BackgroundServer(app) as url, httpx.Client(timeout=60) as client:
        gone = client.post(f"{url}/api/translate", json={**BODY, "exemplar_id": "lake"})
        assert gone.status_code == 404 and gone.json() == {"detail": "no gallery item 'lake'"}
        blank = client.post(f"{url}/api/translate", json={**BODY, "label": ids_b64(scene(0, 0))})
        assert blank.status_code == 422 and blank.json() == {"detail": "nothing painted"}  # the model's ValueError


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_a_non_finite_feather_answers_422_and_keeps_the_connection(gated, value):
    translator, gallery = gated
    translator.gate.set()
    app = create_app(translator, gallery)
    body = json.dumps({**BODY, "inpaint": True}).rstrip("}") + f', "feather": {value}}}'
    with BackgroundServer(app) as url, httpx.Client(timeout=60) as client:
        r = client.post(f"{url}/api/translate", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 422
        [error] = r.json()["detail"]
        assert error["loc"] == ["body", "feather"] and error["msg"] == "Input should be a finite number"
        assert error["input"] == {"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}[value]
        assert client.post(f"{url}/api/translate", json=BODY).status_code == 200  # the server still answers


def test_an_oversized_png_text_chunk_answers_413_and_keeps_the_connection(gated):
    from PIL import PngImagePlugin

    translator, gallery = gated
    translator.gate.set()
    info = PngImagePlugin.PngInfo()
    info.add_text("comment", "a" * (2 * PngImagePlugin.MAX_TEXT_CHUNK), zip=True)
    buf = io.BytesIO()
    photo().save(buf, format="PNG", pnginfo=info)
    with BackgroundServer(create_app(translator, gallery)) as url, httpx.Client(timeout=60) as client:
        for path, body in [("/api/translate", {"label": BODY["label"], "exemplar": b64(buf.getvalue()),
                                               "exemplar_label": BODY["label"]}),
                           ("/api/label", {"label": b64(buf.getvalue())})]:
            r = client.post(f"{url}{path}", json=body)
            assert r.status_code == 413, (path, r.text)
            assert "over the reader's limit (Decompressed data too large" in r.json()["detail"]
        assert client.post(f"{url}/api/translate", json=BODY).status_code == 200


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def call(chunks: list[bytes], headers: list) -> tuple[list[dict], list[dict]]:
    """Send `chunks` as a request body through `app`; returns (what the app received, what it sent)."""
    inbox = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    received, sent = [], []

    async def receive():
        return inbox.pop(0) if inbox else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    async def inner(scope, receive, send):
        while True:
            message = await receive()
            received.append(message)
            if message["type"] == "http.disconnect" or not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"read"})

    await BodyLimit(inner, limit=10)(app_scope(headers), receive, send)
    return received, sent


def app_scope(headers: list) -> dict:
    return {"type": "http", "method": "POST", "path": "/api/translate", "headers": headers}


def test_body_limit_by_content_length_refuses_before_the_app_reads():
    received, sent = asyncio.run(call([b"x" * 11], [(b"content-length", b"11")]))
    assert received == [] and sent[0]["status"] == 413
    assert json.loads(sent[1]["body"]) == {"detail": "request body over the limit of 10 bytes"}


def test_body_limit_while_streaming_tells_the_app_the_client_left():
    received, sent = asyncio.run(call([b"x" * 6, b"x" * 6], []))
    assert [m["type"] for m in received] == ["http.request", "http.disconnect"]
    assert [m.get("status") for m in sent] == [413, None]  # the app's own answer is dropped
    assert json.loads(sent[1]["body"])["detail"] == "request body over the limit of 10 bytes"


def test_body_limit_lets_bodies_within_it_through():
    received, sent = asyncio.run(call([b"x" * 5, b"x" * 5], [(b"content-length", b"10")]))
    assert len(received) == 2 and sent[0]["status"] == 200 and sent[1]["body"] == b"read"
