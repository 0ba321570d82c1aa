"""The exemplar gallery: (photo, label map) pairs the painter retrieves references from, addressed by id only.

`load_gallery(folder, cfg)` reads a folder of pairs; `builtin_gallery(cfg)` makes a few procedural scenes when no
folder is given (the place to plug in better renderings: return `GalleryItem`s from any source).
Retrieval ranks items by the similarity of their label histograms over a spatial pyramid (whole image, 2x2, 4x4).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from cocosnet.app.codec import InputError, label_ids, open_image, resize_ids
from cocosnet.presets import LANDSCAPE_CLASSES, ModelConfig

log = logging.getLogger("cocosnet.app")

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
PYRAMID = (1, 2, 4)
THUMB = 96


def label_features(ids: np.ndarray, label_nc: int, levels: Iterable[int] = PYRAMID) -> list[np.ndarray]:
    """Per pyramid level, a [cells, label_nc] array of class frequencies per cell (rows sum to 1)."""
    h, w = ids.shape
    ids = np.clip(ids, 0, label_nc - 1)
    out = []
    for n in levels:
        cell = ((np.arange(h) * n) // h)[:, None] * n + ((np.arange(w) * n) // w)[None, :]
        hist = np.bincount((cell * label_nc + ids).ravel(), minlength=n * n * label_nc)
        hist = hist.reshape(n * n, label_nc).astype(np.float32)
        out.append(hist / np.maximum(hist.sum(1, keepdims=True), 1))
    return out


def similarity(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    """Histogram intersection averaged over cells and levels: 1 for the same layout, 0 for no shared class."""
    return float(np.mean([np.minimum(x, y).sum(1).mean() for x, y in zip(a, b, strict=True)]))


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
            item.label = resize_ids(item.label, size)
            item.features = label_features(item.label, cfg.label_nc)
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
        query = label_features(ids, self.cfg.label_nc)
        scored = [(item, similarity(query, item.features)) for item in self.items.values()]
        scored.sort(key=lambda pair: (-pair[1], pair[0].id))
        return scored[:k]


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
                 max_pixels: int = 4096 * 4096) -> Gallery:
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


# ------------------------------------------------------------------------------------------- built-in scenes
def landscape_scene(seed: int, size: int, kind: str | None = None, family: str | None = None,
                    style_seed: int | None = None) -> tuple[np.ndarray, Image.Image]:
    """A procedural landscape (`cocosnet.data.landscapes`): its label map and its rendering."""
    from cocosnet.data.landscapes import make_layout, make_style, render

    layout = make_layout(seed, size, kind=kind)
    style = make_style(seed if style_seed is None else style_seed, family)
    return layout.labels.astype(np.int64), Image.fromarray(render(layout, style, seed))


def builtin_gallery(cfg: ModelConfig, n: int = 14) -> Gallery:
    """What the server offers when no --gallery is given: landscapes of the validation split in every style
    family, for checkpoints with the landscape classes; nothing for other class sets (upload a reference)."""
    if tuple(cfg.class_names[: len(LANDSCAPE_CLASSES)]) != LANDSCAPE_CLASSES:
        return Gallery([], cfg)
    from cocosnet.data.landscapes import FAMILIES, SCENE_KINDS, scene_seeds

    items = []
    for i in range(n):
        layout_seed, style_seed = scene_seeds("val", i)
        family, kind = FAMILIES[i % len(FAMILIES)], SCENE_KINDS[i % len(SCENE_KINDS)]
        ids, photo = landscape_scene(layout_seed, cfg.image_size, kind, family, style_seed)
        items.append(GalleryItem(id=f"scene-{i:02d}", name=f"{kind}, {family}", image=photo, label=ids))
    return Gallery(items, cfg)
