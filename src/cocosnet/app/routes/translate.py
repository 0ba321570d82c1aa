"""Translation: a label map checked and brought to the model's resolution at its own aspect ratio (the painter's
Load), and a label map translated with an exemplar (uploaded, a gallery item by id, or the best retrieved one)
behind the queue."""

from __future__ import annotations

import time

import numpy as np
from fastapi import APIRouter
from PIL import Image

from cocosnet.app.codec import InputError, encode_png, ids_image, inpaint_blend
from cocosnet.app.inspector import inspection_fields
from cocosnet.app.schemas import LabelRequest, LabelResponse, TranslateRequest, TranslateResponse, errors
from cocosnet.app.state import AppState, State
from cocosnet.label_resize import resize_label
from cocosnet.sizing import output_size, working_size

router = APIRouter(tags=["api"])


@router.post("/api/label", response_model=LabelResponse, responses=errors(413, 422))
async def prepare_label(req: LabelRequest, state: State):
    """Check a label map against the classes and bring it to the size /api/translate gives it (the painter's Load):
    its aspect ratio kept, its short side at the model's image_size (a square one: image_size²)."""
    def work():
        sem = state.label(req.label, "label")
        try:
            hw = output_size(sem.shape, state.cfg.image_size)
            working_size(hw)
        except ValueError as exc:
            raise InputError(422, f"label: {exc}") from exc
        ids = resize_label(sem, hw)
        return LabelResponse(label=encode_png(ids_image(ids)), classes_present=np.unique(ids).tolist())

    return await state.queue.run(work, slot=False)  # a place in the queue before any decoding


@router.post("/api/translate", response_model=TranslateResponse, responses=errors(404, 413, 422, 503, 504))
async def translate(req: TranslateRequest, state: State):
    """Translate a label map with an exemplar (uploaded, or a gallery item by id, or the best retrieved one)."""
    image, warped, mask, seconds, item_id, found = await state.queue.run(translation, state, req)
    return TranslateResponse(image=encode_png(image), warped=None if warped is None else encode_png(warped),
                             mask=None if mask is None else encode_png(mask), width=image.width, height=image.height,
                             exemplar_id=item_id, seconds=round(seconds, 4), **(found or {}))


def translation(state: AppState, req: TranslateRequest
                ) -> tuple[Image.Image, Image.Image | None, Image.Image | None, float, str | None, dict | None]:
    """A request's whole job, on a queue worker once it has its place: decode and check its pictures, then run the
    model. A refused or waiting request has decoded nothing. (image, warped or None, mask or None, seconds, item id,
    the inspector's response fields or None)"""
    sem, ex, ex_sem, item_id = translation_inputs(state, req)
    found = {} if req.inspect else None
    return (*run_translation(state, req, sem, ex, ex_sem, found), item_id, found)


def translation_inputs(state: AppState, req: TranslateRequest
                       ) -> tuple[np.ndarray, Image.Image, np.ndarray | None, str | None]:
    """(x_A, y_B, y_B's label map or None, the gallery item's id or None) of a request, every input checked."""
    cfg = state.cfg
    sem = state.label(req.label, "label")
    if req.exemplar is not None and req.exemplar_id is not None:
        raise InputError(422, "give exemplar (+ exemplar_label) or exemplar_id, not both")
    item_id = None
    if req.exemplar is not None:
        ex = state.photo(req.exemplar, "exemplar")
        ex_sem = state.label(req.exemplar_label, "exemplar_label") if req.exemplar_label is not None else None
        if ex_sem is None and state.needs_exemplar_label:
            raise InputError(422, f"this checkpoint ({cfg.name}) needs the exemplar's label map: "
                                  f"send exemplar_label with the exemplar photo, or use a gallery item")
    else:
        if req.exemplar_id is not None:
            item = state.gallery.get(req.exemplar_id)
        elif len(state.gallery):
            item = state.gallery.retrieve(resize_label(sem, cfg.image_size), 1)[0][0]
        else:
            raise InputError(422, "no exemplar given and the gallery is empty: send exemplar (+ its label)")
        ex, ex_sem, item_id = item.image, item.label, item.id
    if req.inpaint and ex_sem is None:
        raise InputError(422, "inpainting needs exemplar_label (the original photo's labels)")
    return sem, ex, ex_sem, item_id


def run_translation(state: AppState, req: TranslateRequest, sem: np.ndarray, ex: Image.Image,
                    ex_sem: np.ndarray | None, found: dict | None = None
                    ) -> tuple[Image.Image, Image.Image | None, Image.Image | None, float]:
    """The model's part, on a queue worker: (image, warped exemplar or None, inpainting mask or None, seconds).
    found: a dict to fill with the inspector's response fields (the translation is then inspected)."""
    start = time.perf_counter()
    try:
        out = (state.translator.translate(sem, ex, ex_sem) if found is None
               else state.translator.translate(sem, ex, ex_sem, inspect=True))
    except ValueError as exc:
        raise InputError(422, str(exc)) from exc
    if found is not None:
        found.update(inspection_fields(out, state.classes))
    image = out.images()[0]
    warped = out.warped_images()[0] if req.return_warped else None
    mask = None
    if req.inpaint:
        image, mask = inpaint_blend(image, ex, sem, ex_sem, req.feather)
    return image, warped, mask, time.perf_counter() - start
