"""The gallery of exemplars: its list, each item's pictures by id, and retrieval by layout."""

from __future__ import annotations

import torch
from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import Response

from cocosnet.app.codec import ids_image, png_bytes
from cocosnet.app.schemas import ITEM_ID, GalleryResponse, RetrieveRequest, errors
from cocosnet.app.state import State, gallery_entry
from cocosnet.label_resize import resize_label
from cocosnet.viz import colorize_labels

router = APIRouter(tags=["api"])


@router.get("/api/gallery", response_model=GalleryResponse)
async def list_gallery(state: State):
    return GalleryResponse(items=[gallery_entry(item) for item in state.gallery.items.values()])


@router.get("/api/gallery/{item_id}/{kind}.png", responses=errors(404), response_class=Response)
async def gallery_file(state: State, item_id: str = PathParam(pattern=ITEM_ID),
                       kind: str = PathParam(pattern="^(image|label|label_color|thumb)$")):
    """A gallery item's photo, label map (class ids), coloured label map or thumbnail, by id."""
    item = state.gallery.get(item_id)
    img = {"image": lambda: item.image, "thumb": lambda: item.thumbnail, "label": lambda: ids_image(item.label),
           "label_color": lambda: colorize_labels(torch.from_numpy(item.label), state.cfg)}[kind]()
    return Response(png_bytes(img), media_type="image/png", headers={"Cache-Control": "max-age=3600"})


@router.post("/api/retrieve", response_model=GalleryResponse, responses=errors(413, 422))
async def retrieve(req: RetrieveRequest, state: State):
    """The gallery items whose label layouts are most like this label map (spatial-pyramid histograms)."""
    def work():
        ids = resize_label(state.label(req.label, "label"), state.cfg.image_size)
        k = min(req.k, state.settings.max_retrieve)
        return [gallery_entry(item, score) for item, score in state.gallery.retrieve(ids, k)]

    return GalleryResponse(items=await state.queue.run(work, slot=False))  # a place in the queue before decoding
