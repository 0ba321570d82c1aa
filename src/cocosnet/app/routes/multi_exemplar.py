"""Multi-exemplar translation (instance-level style control): K exemplars, classes / auto / painted regions
assigned to them, behind the same queue and limits as /api/translate.

Every uploaded picture counts: together they may hold no more pixels than the three pictures of a single-exemplar
request (each picture is checked against its share from its header, before decoding), so the worst-case decoded
memory of `AppSettings.worst_case_decoded_bytes` still holds; the body limit is the app's.
"""

from __future__ import annotations

import time

import numpy as np
from fastapi import APIRouter

from cocosnet.app.codec import InputError, decode_base64, decode_label, decode_photo, encode_png, ids_image, open_image
from cocosnet.app.schemas import MultiTranslateRequest, MultiTranslateResponse, errors
from cocosnet.app.state import AppState, State

router = APIRouter(tags=["api"])
PICTURES_OF_A_TRANSLATION = 3  # label + exemplar + its label: the pixel budget every request shares


def picture_count(req: MultiTranslateRequest) -> int:
    uploads = sum((e.image is not None) + (e.label is not None) for e in req.exemplars)
    return 1 + uploads + len(req.regions)


@router.post("/api/translate_multi", response_model=MultiTranslateResponse, responses=errors(404, 413, 422, 503, 504))
async def translate_multi(req: MultiTranslateRequest, state: State):
    """Translate a label map with several exemplars, each styling the classes or painted regions assigned to it."""
    image, warped, assignment, ids, seconds = await state.queue.run(multi_translation, state, req)
    return MultiTranslateResponse(image=encode_png(image), warped=None if warped is None else encode_png(warped),
                                  assignment=encode_png(ids_image(assignment)), exemplar_ids=ids,
                                  width=image.width, height=image.height, seconds=round(seconds, 4))


def multi_translation(state: AppState, req: MultiTranslateRequest):
    """On a queue worker: decode and check every picture (each within its share of the pixel budget), then run."""
    cfg, settings = state.cfg, state.settings
    max_pixels = settings.max_pixels * PICTURES_OF_A_TRANSLATION // max(PICTURES_OF_A_TRANSLATION,
                                                                          picture_count(req))
    max_bytes = settings.max_upload_bytes
    sem = decode_label(req.label, cfg, "label", max_bytes, max_pixels)
    photos, labels, item_ids = [], [], []
    for i, e in enumerate(req.exemplars):
        what = f"exemplars[{i}]"
        if e.id is not None:
            if e.image is not None or e.label is not None:
                raise InputError(422, f"{what}: give image (+ label) or id, not both")
            item = state.gallery.get(e.id)
            photos.append(item.image)
            labels.append(item.label)
            item_ids.append(item.id)
            continue
        if e.image is None:
            raise InputError(422, f"{what}: give image (+ label) or a gallery id")
        photos.append(decode_photo(e.image, f"{what}.image", max_bytes, max_pixels))
        labels.append(None if e.label is None else decode_label(e.label, cfg, f"{what}.label", max_bytes, max_pixels))
        item_ids.append(None)
    if any(lab is None for lab in labels):
        if state.needs_exemplar_label or req.auto:
            missing = [i for i, lab in enumerate(labels) if lab is None]
            why = "auto assignment" if req.auto else f"this checkpoint ({cfg.name})"
            raise InputError(422, f"{why} needs each exemplar's label map: exemplars {missing} have none")
        labels = None
    regions = []
    for i, r in enumerate(req.regions):
        what = f"regions[{i}].mask"
        mask = np.asarray(open_image(decode_base64(r.mask, what, max_bytes), what, max_pixels))
        regions.append((mask, r.exemplar))
    assign = {**({"auto": True} if req.auto else {}), **req.assign}
    start = time.perf_counter()
    try:
        out = state.translator.translate_multi(sem, photos, labels, assign=assign or None, region_masks=regions)
    except ValueError as exc:
        raise InputError(422, str(exc)) from exc
    warped = out.warped_images()[0] if req.return_warped else None
    assignment = out.assignment[0].cpu().numpy()
    return out.images()[0], warped, assignment, item_ids, time.perf_counter() - start
