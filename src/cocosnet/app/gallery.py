"""The exemplar gallery: (photo, label map) pairs the painter retrieves references from, addressed by id only.

`load_gallery(folder, cfg)` reads a folder of pairs; any other source (the `serve` command's built-in scenes,
better renderings) hands `Gallery` a list of `GalleryItem`s. Retrieval ranks items by the histogram intersection
of their label maps over a spatial pyramid (whole image, 2x2, 4x4; `cocosnet.data.retrieval`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from cocosnet.app.codec import InputError, label_ids, open_image
from cocosnet.data.retrieval import class_histograms, histogram_intersection, rank_by_intersection
from cocosnet.label_resize import resize_label
from cocosnet.presets import MAX_INPUT_PIXELS, ModelConfig

log = logging.getLogger("cocosnet.app")

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
THUMB = 96
label_features, similarity = class_histograms, histogram_intersection  # their names before data.retrieval


@dataclass
class GalleryItem:
    """A photo and its label map, both at the model's resolution (what the model sees of them)."""

    id: str
    name: str
    image: Image.Image
    label: np.ndarray
    features: list[np.ndarray] = field(default_factory=list, repr=False)
    thumbnail: Image.Image | None = field(default=None, repr=False)


class Gallery:
    def __init__(self, items: Iterable[GalleryItem], cfg: ModelConfig):
        self.cfg = cfg
        self.items: dict[str, GalleryItem] = {}
        for item in items:
            item.id = _unique(_slug(item.id), self.items)
            size = cfg.image_size
            item.image = item.image.convert("RGB").resize((size, size), Image.BICUBIC)
            item.label = resize_label(item.label, size)
            item.features = class_histograms(item.label, cfg.label_nc)
            item.thumbnail = item.image.resize((THUMB, THUMB), Image.BICUBIC)
            self.items[item.id] = item

    def __len__(self) -> int:
        return len(self.items)

    def get(self, item_id: str) -> GalleryItem:
        item = self.items.get(item_id)
        if item is None:
            raise InputError(404, f"no gallery item {item_id!r}")
        return item

    def retrieve(self, ids: np.ndarray, k: int = 6) -> list[tuple[GalleryItem, float]]:
        """The k items whose layouts are most like the label map `ids`, best first, with their scores in [0, 1]."""
        ranked = rank_by_intersection(class_histograms(ids, self.cfg.label_nc),
                                      {item.id: item.features for item in self.items.values()}, k)
        return [(self.items[item_id], score) for item_id, score in ranked]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")[:64] or "item"


def _unique(item_id: str, taken: dict) -> str:
    out, n = item_id, 1
    while out in taken:
        n += 1
        out = f"{item_id}-{n}"
    return out


def find_pairs(folder: Path) -> list[tuple[str, Path, Path]]:
    """(name, photo, label) for `images/NAME.ext` + `labels/NAME.png` (or `labels/NAME_label.png`), or for
    `NAME.ext` + `NAME_label.png` side by side."""
    if (folder / "images").is_dir() and (folder / "labels").is_dir():
        photos = sorted(p for p in (folder / "images").iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
        candidates = [(p, [folder / "labels" / f"{p.stem}.png", folder / "labels" / f"{p.stem}_label.png"])
                      for p in photos]
    else:
        photos = sorted(p for p in folder.iterdir()
                        if p.suffix.lower() in PHOTO_SUFFIXES and not p.stem.endswith("_label"))
        candidates = [(p, [folder / f"{p.stem}_label.png"]) for p in photos]
    pairs = []
    for photo, labels in candidates:
        label = next((c for c in labels if c.is_file()), None)
        if label is None:
            log.warning("gallery: %s has no label map (%s), skipped", photo, " or ".join(str(c) for c in labels))
            continue
        pairs.append((photo.stem, photo, label))
    return pairs


def load_gallery(folder: str | Path, cfg: ModelConfig, max_items: int = 1000,
                 max_pixels: int = MAX_INPUT_PIXELS) -> Gallery:
    """A folder of (photo, label PNG) pairs; unreadable pairs and out-of-range labels are skipped with a warning."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"gallery folder not found: {folder}")
    items = []
    for name, photo, label in find_pairs(folder)[:max_items]:
        try:
            img = open_image(photo.read_bytes(), str(photo), max_pixels)
            ids = label_ids(open_image(label.read_bytes(), str(label), max_pixels), cfg, str(label))
        except InputError as exc:
            log.warning("gallery: skipped %s: %s", name, exc.detail)
            continue
        items.append(GalleryItem(id=name, name=name, image=img, label=ids))
    if not items:
        raise ValueError(f"gallery {folder}: no (photo, label) pairs found; expected NAME.jpg + NAME_label.png, "
                         f"or images/NAME.jpg + labels/NAME.png")
    return Gallery(items, cfg)
