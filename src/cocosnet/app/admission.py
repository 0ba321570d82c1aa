"""What gets in, and what a refused request is told: bodies over the size limit (413), a full queue (503 with
Retry-After), a request past its time (504 with Retry-After), bad inputs (`InputError`: 404/413/422) and bodies
that fail validation (422, non-finite numbers such as `NaN` or `Infinity` included)."""

from __future__ import annotations

import math

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from cocosnet.app.codec import InputError
from cocosnet.app.state import get_state
from cocosnet.app.worker import QueueFull, QueueTimeout


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


async def input_error(_request: Request, exc: InputError) -> JSONResponse:
    return JSONResponse({"detail": exc.detail}, status_code=exc.status)


def json_safe(value):
    """A value JSON can carry: non-finite floats (a body's `NaN`, `Infinity`) become their names."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's 422 answer, able to quote a `NaN` or `Infinity` the body held (the default answer fails on them)."""
    return JSONResponse({"detail": json_safe(jsonable_encoder(exc.errors()))}, status_code=422)


async def queue_full(_request: Request, exc: QueueFull) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": str(exc.retry_after)})


async def queue_timeout(request: Request, exc: QueueTimeout) -> JSONResponse:
    retry_after = get_state(request).queue.retry_after()
    return JSONResponse({"detail": str(exc)}, status_code=504, headers={"Retry-After": str(retry_after)})


def add_admission(app: FastAPI, max_body_bytes: int) -> None:
    """The body limit in front of the app, and the answers to refused requests."""
    app.add_middleware(BodyLimit, limit=max_body_bytes)
    app.add_exception_handler(InputError, input_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(QueueFull, queue_full)
    app.add_exception_handler(QueueTimeout, queue_timeout)
