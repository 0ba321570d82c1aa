"""The web app: the painter / editor page and the JSON API under it (FastAPI), assembled from its parts.

`state` (the model, gallery, queue and limits every route reads), `schemas` (request and response bodies),
`routes/` (one router per concern), `admission` (body limit, 503/504 answers), `worker` (the bounded inference
queue) and `codec` (images in and out of JSON). The model is reached only through `Translator.translate`.
"""

from __future__ import annotations

import threading
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles

from cocosnet.app.admission import add_admission
from cocosnet.app.gallery import Gallery
from cocosnet.app.routes import ROUTERS
from cocosnet.app.routes.pages import STATIC
from cocosnet.app.schemas import API_DESCRIPTION
from cocosnet.app.state import AppSettings, AppState

__all__ = ["AppSettings", "BackgroundServer", "SECURITY_HEADERS", "create_app"]

SECURITY_HEADERS = {
    # everything the page uses comes from this server: no CDN, no fonts, no analytics
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
                               "script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


async def security_headers(request: Request, call_next):
    response = await call_next(request)
    response.headers.update(SECURITY_HEADERS)
    return response


def create_app(translator, gallery: Gallery | None = None, settings: AppSettings | None = None) -> FastAPI:
    """The FastAPI app around a loaded `Translator` (label-map checkpoints only) and a gallery."""
    state = AppState.build(translator, gallery, settings)

    @asynccontextmanager
    async def lifespan(_app):
        yield
        state.queue.shutdown()

    # no /docs or /redoc: FastAPI's pages load Swagger UI / ReDoc from a CDN, and this app works offline
    app = FastAPI(title="cocosnet", version="1", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description=API_DESCRIPTION)
    app.state.cocosnet = state
    add_admission(app, state.settings.max_body_bytes)
    app.middleware("http")(security_headers)
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
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
