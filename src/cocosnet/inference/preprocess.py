"""Inputs as the official test path prepares them: photos bicubic-resized to [-1,1], label maps nearest-resized.

Accepts paths, PIL images, NumPy arrays and tensors, so the Python API, the CLI and the web app share one path.
The picture <-> tensor conversions themselves live in `cocosnet.data.transforms`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from cocosnet.data.errors import DataError
from cocosnet.data.io import load_image, load_label, read_label_pixels
from cocosnet.label_resize import resize_label
from cocosnet.presets import ModelConfig
from cocosnet.viz import ids_from_colours, label_palette

Image.MAX_IMAGE_PIXELS = 64_000_000  # refuse decompression bombs early (PIL raises DecompressionBombError)


def prepare_exemplar(source: Any, size: int | tuple[int, int], what: str = "exemplar") -> torch.Tensor:
    """RGB photo -> float [3,size,size] (or [3,H,W] for size=(H, W)) in [-1,1] (BICUBIC resize, aspect not kept,
    as the official test path).

    A tensor is taken as already prepared ([3,H,W] or [1,3,H,W] in [-1,1]); paths, PIL images and arrays are
    decoded by `cocosnet.data.io.load_image`.
    """
    if isinstance(source, torch.Tensor):
        t = source.squeeze(0) if source.dim() == 4 and source.shape[0] == 1 else source
        if t.dim() != 3 or t.shape[0] != 3:
            raise ValueError(f"{what} tensor must be [3,H,W] in [-1,1], got {tuple(source.shape)}")
        hw = (size, size) if isinstance(size, int) else tuple(size)
        if t.shape[-2:] != hw:
            t = F.interpolate(t[None].float(), size=hw, mode="bicubic", align_corners=False)[0]
        return t.float().clamp(-1, 1)
    if isinstance(source, (str, Path)) and not Path(source).is_file():
        raise FileNotFoundError(f"{what} not found: {source}")
    return load_image(source, size, user_input=True)


def read_label_ids(path: str | Path, cfg: ModelConfig, what: str = "label map") -> np.ndarray:
    """A label picture -> HxW class ids, read as the web API reads uploads: the same formats and pixel limit
    (checked from the header), single-channel ids, or RGB in the checkpoint's class colours
    (`cocosnet.viz.ids_from_colours`)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    pixels = read_label_pixels(path, user_input=True)
    if pixels.ndim == 2:
        return pixels
    try:
        return ids_from_colours(pixels, label_palette(cfg))
    except ValueError as exc:
        raise DataError(str(exc), path) from exc


def _load_dense(source: Any, cfg: ModelConfig, what: str) -> torch.Tensor:
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"{what} not found: {path}")
        if path.suffix == ".npy":
            return torch.from_numpy(np.load(path))
        if path.suffix == ".npz":
            with np.load(path) as z:
                return torch.from_numpy(z[z.files[0]])
        if path.suffix in (".pt", ".pth"):
            return torch.load(path, map_location="cpu", weights_only=True)
        raise ValueError(f"{path}: preset {cfg.name!r} takes a {cfg.semantic_nc}-channel map as .npy, .npz or "
                         f".pt (make one with `cocosnet prepare`)")
    return source if isinstance(source, torch.Tensor) else torch.as_tensor(np.asarray(source))


def prepare_semantic(source: Any, cfg: ModelConfig, what: str = "label map",
                     size: int | tuple[int, int] | None = None, keep_size: bool = False) -> torch.Tensor:
    """Semantic input for this preset: class ids long [1,size,size] (NEAREST resize; 255 -> don't-care where the
    preset has one) or a dense map float [C,size,size] (.npy/.npz/.pt file, array or tensor; nearest-resized).
    size: the preset's image_size unless given (int: square; (H, W)); keep_size: not resized at all."""
    size = None if keep_size else (cfg.image_size if size is None else size)
    if cfg.label_nc:
        dontcare = 255 if cfg.dontcare_id >= 0 else None
        if isinstance(source, (str, Path)):
            return load_label(read_label_ids(source, cfg, what), size, cfg.label_nc, dontcare, name=str(source))
        return load_label(source, size, cfg.label_nc, dontcare)
    t = _load_dense(source, cfg, what).float()
    if t.dim() == 4 and t.shape[0] == 1:
        t = t[0]
    if t.dim() != 3 or t.shape[0] != cfg.semantic_nc:
        name = str(source) if isinstance(source, (str, Path)) else what
        raise ValueError(f"{name}: preset {cfg.name!r} takes a [{cfg.semantic_nc},H,W] map, got {tuple(t.shape)}")
    return t if size is None else resize_semantic(t, cfg, size)


def resize_semantic(t: torch.Tensor, cfg: ModelConfig, size: int | tuple[int, int]) -> torch.Tensor:
    """A prepared semantic input resized as `prepare_semantic` would have: class ids [1,H,W] with PIL's NEAREST
    (`label_resize.resize_label`), dense maps [C,H,W] with torch's nearest."""
    hw = (size, size) if isinstance(size, int) else tuple(size)
    if tuple(t.shape[-2:]) == hw:
        return t
    if cfg.label_nc:
        return torch.from_numpy(resize_label(t[0].numpy(), hw))[None]
    return F.interpolate(t[None], size=hw, mode="nearest")[0]
