"""The web app: the painter / editor page and the JSON API under it (FastAPI).

Images travel as base64 strings inside JSON (a `data:image/png;base64,` prefix is accepted and ignored): label
maps as single-channel PNGs of class ids (or RGB PNGs in the class colours), photos as PNG, JPEG, WebP or BMP;
answers are PNG. The model is loaded once by the caller and only reached through `Translator.translate`,
behind a bounded queue (`InferenceQueue`).
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from fastapi import FastAPI, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from cocosnet.app.codec import (
    InputError,
    decode_label,
    decode_photo,
    encode_png,
    ids_image,
    inpaint_blend,
    png_bytes,
    resize_ids,
)
from cocosnet.app.gallery import Gallery
from cocosnet.app.worker import InferenceQueue, QueueFull, QueueTimeout
from cocosnet.inference.preprocess import colorize_labels, label_palette

log = logging.getLogger("cocosnet.app")
STATIC = Path(__file__).parent / "static"
ITEM_ID = r"^[A-Za-z0-9_-]{1,80}$"
PNG_FIELD = "base64 PNG (a data: URL prefix is accepted)"


@dataclass
class AppSettings:
    max_upload_bytes: int = 10 * 2**20  # per image, decoded
    max_pixels: int = 4096 * 4096  # per image, read from the header before decoding
    slots: int = 1  # inference threads
    waiting: int = 4  # requests that may wait for a slot; more -> 503
    timeout: float = 60.0  # seconds a translate request may wait + run; more -> 504
    max_retrieve: int = 24

    @property
    def max_body_bytes(self) -> int:
        """Three images as base64 plus the JSON around them."""
        return 3 * (self.max_upload_bytes * 4 // 3 + 4) + 64 * 1024


# ------------------------------------------------------------------------------------------------- schemas
class ClassInfo(BaseModel):
    id: int
    name: str
    color: str = Field(description="#rrggbb, the colour the painter shows the class in")


class ClassesResponse(BaseModel):
    preset: str
    image_size: int = Field(description="width = height of the model's input and output")
    label_nc: int
    needs_exemplar_label: bool = Field(description="maskmix models need the exemplar's label map with the photo")
    classes: list[ClassInfo]


class HealthResponse(BaseModel):
    status: str
    preset: str
    device: str
    gallery_items: int
    queue: dict[str, int]


class GalleryEntry(BaseModel):
    id: str
    name: str
    thumbnail: str = Field(description="URL of a 96x96 PNG")
    image: str = Field(description="URL of the photo (PNG, model resolution)")
    label: str = Field(description="URL of the label map (single-channel PNG of class ids)")
    label_color: str = Field(description="URL of the label map in the class colours")
    score: float | None = Field(None, description="retrieval similarity in [0,1] (retrieve only)")


class GalleryResponse(BaseModel):
    items: list[GalleryEntry]


class LabelRequest(BaseModel):
    label: str = Field(description=f"label map: {PNG_FIELD}; single-channel class ids or RGB class colours")


class RetrieveRequest(LabelRequest):
    k: int = Field(6, ge=1, le=100, description="how many exemplars to return (capped by the server)")


class LabelResponse(BaseModel):
    label: str = Field(description="the label map at the model's resolution, single-channel PNG of class ids")
    classes_present: list[int]


class TranslateRequest(BaseModel):
    label: str = Field(description=f"the semantic input x_A: {PNG_FIELD}, class ids (or RGB class colours)")
    exemplar: str | None = Field(None, description=f"the exemplar photo y_B: {PNG_FIELD} (or JPEG/WebP/BMP)")
    exemplar_label: str | None = Field(None, description="the exemplar's label map (needed by maskmix models)")
    exemplar_id: str | None = Field(None, pattern=ITEM_ID,
                                    description="a gallery item as the exemplar, instead of exemplar(+label); "
                                                "with neither, the best retrieved gallery item is used")
    inpaint: bool = Field(False, description="keep the exemplar where label == exemplar_label and blend the "
                                             "generated image into the changed region (the editor's Inpainting)")
    feather: float = Field(6.0, ge=0, le=64, description="inpainting: width of the blended edge in pixels")
    return_warped: bool = Field(True, description="also return the warped exemplar")


class TranslateResponse(BaseModel):
    image: str = Field(description="the output, base64 PNG, image_size x image_size")
    warped: str | None = Field(None, description="the exemplar warped to the input's layout, base64 PNG")
    mask: str | None = Field(None, description="inpainting: the blend mask, base64 PNG (white = generated)")
    width: int
    height: int
    exemplar_id: str | None = Field(None, description="the gallery item used, when one was")
    seconds: float = Field(description="model time, queue wait excluded")


ERRORS = {
    404: {"description": "no such gallery item"},
    413: {"description": "body, image bytes or pixels over the limits (decompression bombs included)"},
    422: {"description": "undecodable or corrupt image, label ids outside the classes, or a missing input"},
    503: {"description": "all inference slots and waiting places taken; see the Retry-After header"},
    504: {"description": "the request waited and ran longer than the server's timeout"},
}


# ---------------------------------------------------------------------------------------------- middleware
class BodyLimit:
    """Refuse request bodies over `limit` bytes with 413: by Content-Length at once, or while the body streams in
    (then the app is told the client went away, and whatever it answers is dropped)."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await _send_413(send, self.limit)
        seen, started, refused = 0, False, False

        async def limited_receive():
            nonlocal seen, started, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    refused = True
                    if not started:
                        started = True
                        await _send_413(send, self.limit)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, limited_receive, guarded_send)


async def _send_413(send, limit: int) -> None:
    body = f'{{"detail":"request body over the limit of {limit} bytes"}}'.encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


SECURITY_HEADERS = {
    # everything the page uses comes from this server: no CDN, no fonts, no analytics
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
                               "script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


# ----------------------------------------------------------------------------------------------------- app
def create_app(translator, gallery: Gallery | None = None, settings: AppSettings | None = None) -> FastAPI:
    """The FastAPI app around a loaded `Translator` (label-map checkpoints only) and a gallery."""
    settings = settings or AppSettings()
    cfg = translator.cfg
    if not cfg.label_nc:
        raise ValueError(f"the painter needs a label-map checkpoint; preset {cfg.name!r} takes dense "
                         f"{cfg.semantic_nc}-channel maps")
    gallery = gallery if gallery is not None else Gallery([], cfg)
    queue = InferenceQueue(settings.slots, settings.waiting, settings.timeout)
    needs_ex_label = cfg.needs_exemplar_label
    palette = label_palette(cfg)
    names = list(cfg.class_names) + [f"class {i}" for i in range(len(cfg.class_names), cfg.label_nc)]
    classes = [ClassInfo(id=i, name=names[i], color="#{:02x}{:02x}{:02x}".format(*palette[i].tolist()))
               for i in range(cfg.label_nc)]

    @asynccontextmanager
    async def lifespan(_app):
        yield
        queue.shutdown()

    # no /docs or /redoc: FastAPI's pages load Swagger UI / ReDoc from a CDN, and this app works offline
    app = FastAPI(title="cocosnet", version="1", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Exemplar-based image translation (CoCosNet): painter, editor and JSON API. " + __doc__)
    app.state.queue, app.state.gallery, app.state.settings = queue, gallery, settings
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    @app.exception_handler(InputError)
    async def input_error(_request, exc: InputError):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status)

    @app.exception_handler(QueueFull)
    async def queue_full(_request, exc: QueueFull):
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": str(exc.retry_after)})

    @app.exception_handler(QueueTimeout)
    async def queue_timeout(_request, exc: QueueTimeout):
        return JSONResponse({"detail": str(exc)}, status_code=504, headers={"Retry-After": str(queue.retry_after())})

    def label(text: str, what: str) -> np.ndarray:
        return decode_label(text, cfg, what, settings.max_upload_bytes, settings.max_pixels)

    def photo(text: str, what: str):
        return decode_photo(text, what, settings.max_upload_bytes, settings.max_pixels)

    def entry(item, score: float | None = None) -> GalleryEntry:
        base = f"/api/gallery/{item.id}"
        return GalleryEntry(id=item.id, name=item.name, thumbnail=f"{base}/thumb.png", image=f"{base}/image.png",
                            label=f"{base}/label.png", label_color=f"{base}/label_color.png",
                            score=None if score is None else round(score, 4))

    # ---------------------------------------------------------------------------------------------- pages
    @app.get("/", include_in_schema=False)
    async def index():
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    # ------------------------------------------------------------------------------------------------ API
    @app.get("/api/health", response_model=HealthResponse, tags=["api"])
    async def health():
        return HealthResponse(status="ok", preset=cfg.name, device=str(translator.device),
                              gallery_items=len(gallery), queue=queue.stats())

    @app.get("/api/classes", response_model=ClassesResponse, tags=["api"])
    async def get_classes():
        """The checkpoint's classes (the painter's palette), its resolution, and whether it needs exemplar labels."""
        return ClassesResponse(preset=cfg.name, image_size=cfg.image_size, label_nc=cfg.label_nc,
                               needs_exemplar_label=needs_ex_label, classes=classes)

    @app.get("/api/gallery", response_model=GalleryResponse, tags=["api"])
    async def list_gallery():
        return GalleryResponse(items=[entry(item) for item in gallery.items.values()])

    @app.get("/api/gallery/{item_id}/{kind}.png", tags=["api"], responses={404: ERRORS[404]},
             response_class=Response)
    async def gallery_file(item_id: str = PathParam(pattern=ITEM_ID),
                           kind: str = PathParam(pattern="^(image|label|label_color|thumb)$")):
        """A gallery item's photo, label map (class ids), coloured label map or thumbnail, by id."""
        item = gallery.get(item_id)
        img = {"image": lambda: item.image, "thumb": lambda: item.thumbnail, "label": lambda: ids_image(item.label),
               "label_color": lambda: colorize_labels(torch.from_numpy(item.label), cfg)}[kind]()
        return Response(png_bytes(img), media_type="image/png", headers={"Cache-Control": "max-age=3600"})

    @app.post("/api/label", response_model=LabelResponse, tags=["api"], responses={413: ERRORS[413], 422: ERRORS[422]})
    async def prepare_label(req: LabelRequest):
        """Check a label map against the classes and bring it to the model's resolution (the painter's Load)."""
        def work():
            ids = resize_ids(label(req.label, "label"), cfg.image_size)
            return LabelResponse(label=encode_png(ids_image(ids)), classes_present=np.unique(ids).tolist())

        return await run_in_threadpool(work)

    @app.post("/api/retrieve", response_model=GalleryResponse, tags=["api"],
              responses={413: ERRORS[413], 422: ERRORS[422]})
    async def retrieve(req: RetrieveRequest):
        """The gallery items whose label layouts are most like this label map (spatial-pyramid histograms)."""
        def work():
            ids = resize_ids(label(req.label, "label"), cfg.image_size)
            return [entry(item, score) for item, score in gallery.retrieve(ids, min(req.k, settings.max_retrieve))]

        return GalleryResponse(items=await run_in_threadpool(work))

    @app.post("/api/translate", response_model=TranslateResponse, tags=["api"],
              responses={k: ERRORS[k] for k in (404, 413, 422, 503, 504)})
    async def translate(req: TranslateRequest):
        """Translate a label map with an exemplar (uploaded, or a gallery item by id, or the best retrieved one)."""
        def prepare():
            sem = label(req.label, "label")
            if req.exemplar is not None and req.exemplar_id is not None:
                raise InputError(422, "give exemplar (+ exemplar_label) or exemplar_id, not both")
            item_id = None
            if req.exemplar is not None:
                ex = photo(req.exemplar, "exemplar")
                ex_sem = label(req.exemplar_label, "exemplar_label") if req.exemplar_label is not None else None
                if ex_sem is None and needs_ex_label:
                    raise InputError(422, f"this checkpoint ({cfg.name}) needs the exemplar's label map: "
                                          f"send exemplar_label with the exemplar photo, or use a gallery item")
            else:
                if req.exemplar_id is not None:
                    item = gallery.get(req.exemplar_id)
                elif len(gallery):
                    item = gallery.retrieve(resize_ids(sem, cfg.image_size), 1)[0][0]
                else:
                    raise InputError(422, "no exemplar given and the gallery is empty: send exemplar (+ its label)")
                ex, ex_sem, item_id = item.image, item.label, item.id
            if req.inpaint and ex_sem is None:
                raise InputError(422, "inpainting needs exemplar_label (the original photo's labels)")
            return sem, ex, ex_sem, item_id

        sem, ex, ex_sem, item_id = await run_in_threadpool(prepare)

        def infer():
            start = time.perf_counter()
            try:
                out = translator.translate(sem, ex, ex_sem)
            except ValueError as exc:
                raise InputError(422, str(exc)) from exc
            image = out.images()[0]
            warped = out.warped_images()[0] if req.return_warped else None
            mask = None
            if req.inpaint:
                image, mask = inpaint_blend(image, ex, sem, ex_sem, req.feather)
            return image, warped, mask, time.perf_counter() - start

        image, warped, mask, seconds = await queue.run(infer)
        return TranslateResponse(image=encode_png(image), warped=None if warped is None else encode_png(warped),
                                 mask=None if mask is None else encode_png(mask), width=image.width,
                                 height=image.height,
                                 exemplar_id=item_id, seconds=round(seconds, 4))

    return app


# ----------------------------------------------------------------------------------------- running it
class BackgroundServer:
    """uvicorn in a daemon thread (tests, benchmarks, screenshots): `with BackgroundServer(app) as url: ...`."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0):
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                                    timeout_graceful_shutdown=2))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.02)
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
