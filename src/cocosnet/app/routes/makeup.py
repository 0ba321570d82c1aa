"""Makeup transfer for the Makeup tab: a makeup layer (RGBA) drawn on a reference portrait, warped onto one target
portrait (the page sends one request per target) by the offline Face Mesh correspondence and blended.

Admitted and bounded like translation: a place in the queue before anything is decoded, three pictures per
request (the app's body limit), each checked against the upload and pixel limits. The app's model is a label-map
checkpoint, so the CoCosNet face correspondence is the CLI's (`cocosnet makeup --official`), not the page's.
"""

from __future__ import annotations

import threading
import time
from typing import Literal

from fastapi import APIRouter
from PIL import Image
from pydantic import BaseModel, Field

from cocosnet.app.codec import InputError, decode_base64, encode_png, open_image
from cocosnet.app.schemas import PNG_FIELD, errors
from cocosnet.app.state import AppState, State
from cocosnet.makeup import MakeupError, MakeupTransfer

router = APIRouter(tags=["api"])


class MakeupRequest(BaseModel):
    reference: str = Field(description=f"the portrait the layer was drawn on: {PNG_FIELD} (or JPEG, WebP...)")
    layer: str = Field(description="the makeup layer: base64 RGBA PNG the size of the reference, transparent "
                                   "where there is no makeup")
    target: str = Field(description="the portrait to make up (base64 photo)")
    blend: Literal["multiply", "normal", "soft-light"] = "multiply"
    opacity: float = Field(1.0, ge=0.0, le=1.0)


class MakeupResponse(BaseModel):
    image: str = Field(description="base64 PNG: the made-up target, at the target's size")
    layer: str = Field(description="base64 RGBA PNG: the layer warped onto the target")
    correspondence: str = Field(description="which correspondence warped the layer")
    notes: list[str] = Field(description="e.g. several faces found, the largest used")
    width: int
    height: int
    seconds: float


_transfer: MakeupTransfer | None = None
_lock = threading.Lock()  # one Face Mesh graph, used by one worker at a time


def makeup_result(state: AppState, req: MakeupRequest) -> MakeupResponse:
    """The request's whole job, on a queue worker: decode and check its three pictures, then transfer."""
    global _transfer
    limits = state.settings.max_upload_bytes, state.settings.max_pixels
    reference = state.photo(req.reference, "reference")
    layer = open_image(decode_base64(req.layer, "layer", limits[0]), "layer", limits[1])
    target = state.photo(req.target, "target")
    start = time.perf_counter()
    with _lock:
        if _transfer is None:
            _transfer = MakeupTransfer()
        try:
            result = _transfer.transfer(reference, layer, [target], req.blend, req.opacity, names=["target"])[0]
        except MakeupError as exc:
            raise InputError(422, str(exc)) from exc
        correspondence = _transfer.correspondence
    image = Image.fromarray(result.image)
    return MakeupResponse(image=encode_png(image), layer=encode_png(Image.fromarray(result.warped_rgba(), "RGBA")),
                          correspondence=correspondence, notes=result.notes, width=image.width, height=image.height,
                          seconds=round(time.perf_counter() - start, 4))


@router.post("/api/makeup", response_model=MakeupResponse, responses=errors(413, 422, 503, 504))
async def makeup(req: MakeupRequest, state: State):
    """Warp a makeup layer drawn on the reference portrait onto the target portrait and blend it."""
    return await state.queue.run(makeup_result, state, req)


__all__ = ["MakeupRequest", "MakeupResponse", "router"]
