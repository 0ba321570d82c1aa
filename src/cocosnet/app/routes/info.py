"""What the server runs: health (with the queue's counters) and the checkpoint's classes."""

from __future__ import annotations

from fastapi import APIRouter

from cocosnet.app.schemas import ClassesResponse, HealthResponse
from cocosnet.app.state import State

router = APIRouter(tags=["api"])


@router.get("/api/health", response_model=HealthResponse)
async def health(state: State):
    return HealthResponse(status="ok", preset=state.cfg.name, device=str(state.translator.device),
                          gallery_items=len(state.gallery), queue=state.queue.stats())


@router.get("/api/classes", response_model=ClassesResponse)
async def get_classes(state: State):
    """The checkpoint's classes (the painter's palette), its resolution, and whether it needs exemplar labels."""
    cfg = state.cfg
    return ClassesResponse(preset=cfg.name, image_size=cfg.image_size, label_nc=cfg.label_nc,
                           needs_exemplar_label=state.needs_exemplar_label, classes=state.classes)
