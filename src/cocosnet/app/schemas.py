"""The JSON API's request and response bodies (pydantic), and the error statuses the routes document."""

from __future__ import annotations

from pydantic import BaseModel, Field

# the OpenAPI description: what the API is and how images travel
API_DESCRIPTION = """Exemplar-based image translation (CoCosNet): painter, editor and JSON API. \
The web app: the painter / editor page and the JSON API under it (FastAPI).

Images travel as base64 strings inside JSON (a `data:image/png;base64,` prefix is accepted and ignored): label
maps as single-channel PNGs of class ids (or RGB PNGs in the class colours), photos as PNG, JPEG, WebP, BMP, GIF
or TIFF; answers are PNG. The model is loaded once by the caller and only reached through `Translator.translate`,
behind a bounded queue (`InferenceQueue`).
"""
ITEM_ID = r"^[A-Za-z0-9_-]{1,80}$"
PNG_FIELD = "base64 PNG (a data: URL prefix is accepted)"


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
    feather: float = Field(6.0, ge=0, le=64, allow_inf_nan=False,
                           description="inpainting: width of the blended edge in pixels")
    return_warped: bool = Field(True, description="also return the warped exemplar")
    inspect: bool = Field(False, description="also return the correspondence inspector's confidence, flow and "
                                             "missing_classes (docs/inspector.md)")


class TranslateResponse(BaseModel):
    image: str = Field(description="the output, base64 PNG, image_size x image_size")
    warped: str | None = Field(None, description="the exemplar warped to the input's layout, base64 PNG")
    mask: str | None = Field(None, description="inpainting: the blend mask, base64 PNG (white = generated)")
    width: int
    height: int
    exemplar_id: str | None = Field(None, description="the gallery item used, when one was")
    seconds: float = Field(description="model time, queue wait excluded")
    confidence: str | None = Field(None, description="inspect: the match confidence, greyscale base64 PNG "
                                                     "(white = one exemplar position alone)")
    flow: str | None = Field(None, description="inspect: where each pixel's style came from in the exemplar, "
                                               "colour-wheel base64 PNG (hue = direction, saturation = distance)")
    flow_scale: float | None = Field(None, description="inspect: the displacement in pixels shown at full colour")
    missing_classes: list[ClassInfo] | None = Field(None, description="inspect: the label's classes the "
                                                                      "exemplar's label map lacks")


ERRORS = {
    404: {"description": "no such gallery item"},
    413: {"description": "body, image bytes or pixels over the limits (decompression bombs included)"},
    422: {"description": "undecodable or corrupt image, label ids outside the classes, or a missing input"},
    503: {"description": "all inference slots and waiting places taken; see the Retry-After header"},
    504: {"description": "the request waited and ran longer than the server's timeout"},
}


def errors(*statuses: int) -> dict[int, dict[str, str]]:
    """The `responses=` of a route that can answer these error statuses."""
    return {status: ERRORS[status] for status in statuses}


# ------------------------------------------------------------------ multi-exemplar translation (instance-level style)
MAX_EXEMPLARS = 4  # exemplars per multi-exemplar request
MAX_REGIONS = 8  # region masks per multi-exemplar request


class ExemplarInput(BaseModel):
    image: str | None = Field(None, description=f"the exemplar photo: {PNG_FIELD} (or JPEG/WebP/BMP)")
    label: str | None = Field(None, description="its label map (needed by maskmix models, and by auto)")
    id: str | None = Field(None, pattern=ITEM_ID, description="a gallery item instead of image (+ label)")


class RegionInput(BaseModel):
    mask: str = Field(description=f"{PNG_FIELD} of the label's size; non-zero = the region")
    exemplar: int = Field(ge=0, description="the index of the exemplar that styles the region")


class MultiTranslateRequest(BaseModel):
    label: str = Field(description=f"the semantic input x_A: {PNG_FIELD}, class ids (or RGB class colours)")
    exemplars: list[ExemplarInput] = Field(min_length=1, max_length=MAX_EXEMPLARS,
                                           description="exemplar 0 styles every pixel not assigned elsewhere")
    assign: dict[str, int] = Field(default_factory=dict, max_length=256,
                                   description="class name (or id) -> exemplar index")
    auto: bool = Field(False, description="each class from the exemplar whose label map holds it most "
                                          "(assign's entries still win)")
    regions: list[RegionInput] = Field(default_factory=list, max_length=MAX_REGIONS,
                                       description="region masks -> exemplar; they override assign, a later an "
                                                   "earlier one")
    return_warped: bool = Field(True, description="also return the composite warped exemplar")


class MultiTranslateResponse(BaseModel):
    image: str = Field(description="the output, base64 PNG, image_size x image_size")
    warped: str | None = Field(None, description="the composite warped exemplar, base64 PNG")
    assignment: str = Field(description="single-channel PNG at the model's resolution: each pixel's exemplar index")
    exemplar_ids: list[str | None] = Field(description="the gallery item of each exemplar, where one was used")
    width: int
    height: int
    seconds: float = Field(description="model time, queue wait excluded")
