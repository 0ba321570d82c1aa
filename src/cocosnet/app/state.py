"""What every route reads: the model, the gallery, the queue in front of the model and the limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
from fastapi import Depends, Request
from PIL import Image

from cocosnet.app.codec import decode_label, decode_photo
from cocosnet.app.gallery import Gallery, GalleryItem
from cocosnet.app.schemas import ClassInfo, GalleryEntry
from cocosnet.app.worker import InferenceQueue
from cocosnet.inference.inspection import class_names
from cocosnet.presets import MAX_INPUT_PIXELS, ModelConfig
from cocosnet.viz import label_palette

# The most bytes per pixel of max_pixels that one request's decoded pictures reach at their peak. The costliest
# request sends both label maps as colour-coded RGB: the label's 64-bit ids kept (8 B/pixel), the photo kept as
# RGB (3), and while the exemplar's label map is read: its RGB (3 + a 3 B copy), 32-bit colour codes (4), their
# 64-bit palette indices (8) and the 64-bit ids (8) -- 37 B/pixel, 41 measured with the model's copy of the
# photo (tests/app/test_flood.py), 48 with room for the checks' masks. Single-channel id maps: 24 measured.
DECODED_BYTES_PER_PIXEL = 48


@dataclass
class AppSettings:
    max_upload_bytes: int = 10 * 2**20  # per image, decoded
    max_pixels: int = MAX_INPUT_PIXELS  # per image, read from the header before decoding (the CLI's limit too)
    slots: int = 1  # inference threads
    waiting: int = 4  # requests that may wait for a slot; more -> 503
    timeout: float = 60.0  # seconds a translate request may wait + run; more -> 504
    max_retrieve: int = 24

    @property
    def worst_case_decoded_bytes(self) -> int:
        """The most memory the requests' decoded pictures take at once: every place in the queue (slots + waiting)
        holding the largest request (max_pixels per image, DECODED_BYTES_PER_PIXEL over its three pictures). A
        request takes its place before decoding, so refused requests decode nothing."""
        return (self.slots + self.waiting) * self.max_pixels * DECODED_BYTES_PER_PIXEL

    @property
    def max_body_bytes(self) -> int:
        """Three images as base64 plus the JSON around them."""
        return 3 * (self.max_upload_bytes * 4 // 3 + 4) + 64 * 1024


@dataclass
class AppState:
    """One app's state, built once by `create_app` and handed to the routes by `get_state`.

    `translator` is a `Translator` with a label-map checkpoint, or anything with its `cfg`, `device` and
    `translate(label, exemplar, exemplar_label)`.
    """

    translator: Any
    gallery: Gallery
    queue: InferenceQueue
    settings: AppSettings
    classes: list[ClassInfo]

    @classmethod
    def build(cls, translator, gallery: Gallery | None = None, settings: AppSettings | None = None) -> AppState:
        cfg = translator.cfg
        if not cfg.label_nc:
            raise ValueError(f"the painter needs a label-map checkpoint; preset {cfg.name!r} takes dense "
                             f"{cfg.semantic_nc}-channel maps")
        settings = settings or AppSettings()
        return cls(translator=translator, gallery=gallery if gallery is not None else Gallery([], cfg),
                   queue=InferenceQueue(settings.slots, settings.waiting, settings.timeout), settings=settings,
                   classes=class_list(cfg))

    @property
    def cfg(self) -> ModelConfig:
        return self.translator.cfg

    @property
    def needs_exemplar_label(self) -> bool:
        """maskmix (and masked-warp) checkpoints read the exemplar's label map beside its photo."""
        return self.cfg.needs_exemplar_label

    def label(self, text: str, what: str) -> np.ndarray:
        """A label map from the request field `what`, checked against the classes and the limits."""
        return decode_label(text, self.cfg, what, self.settings.max_upload_bytes, self.settings.max_pixels)

    def photo(self, text: str, what: str) -> Image.Image:
        """A photo from the request field `what`, checked against the limits."""
        return decode_photo(text, what, self.settings.max_upload_bytes, self.settings.max_pixels)


def class_list(cfg: ModelConfig) -> list[ClassInfo]:
    """The checkpoint's classes with their names (numbered when the preset names fewer) and palette colours."""
    palette = label_palette(cfg)
    names = class_names(cfg)
    return [ClassInfo(id=i, name=names[i], color="#{:02x}{:02x}{:02x}".format(*palette[i].tolist()))
            for i in range(cfg.label_nc)]


def gallery_entry(item: GalleryItem, score: float | None = None) -> GalleryEntry:
    """A gallery item as the API lists it: URLs of its pictures by id, and its retrieval score when ranked."""
    base = f"/api/gallery/{item.id}"
    return GalleryEntry(id=item.id, name=item.name, thumbnail=f"{base}/thumb.png", image=f"{base}/image.png",
                        label=f"{base}/label.png", label_color=f"{base}/label_color.png",
                        score=None if score is None else round(score, 4))


def get_state(request: Request) -> AppState:
    """The routes' dependency: the state of the app that received the request."""
    return request.app.state.cocosnet


State = Annotated[AppState, Depends(get_state)]  # a route's parameter `state: State` receives the app's state
