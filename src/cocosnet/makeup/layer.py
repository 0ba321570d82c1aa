"""Reading a makeup layer: RGBA, drawn on the reference portrait and the same size as it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from cocosnet.makeup.errors import MakeupError


def premultiplied(rgba: np.ndarray) -> np.ndarray:
    """uint8 HxWx4 (straight alpha) -> float32 HxWx4 in [0,1], colour multiplied by alpha (what warps average)."""
    a = rgba.astype(np.float32) / 255.0
    a[..., :3] *= a[..., 3:4]
    return a


def straight_rgba(layer: np.ndarray) -> np.ndarray:
    """Premultiplied float HxWx4 -> uint8 HxWx4 with straight alpha (a PNG to look at or paint on)."""
    from cocosnet.makeup.blend import unpremultiply

    colour, alpha = unpremultiply(layer)
    return np.clip(np.round(np.concatenate([colour, alpha], -1) * 255.0), 0, 255).astype(np.uint8)


def read_layer(source: Any, reference_size: tuple[int, int], name: str = "makeup layer") -> np.ndarray:
    """A PNG/WebP path, PIL image or uint8 HxWx4 array -> uint8 HxWx4. Transparency is read from an alpha channel
    (RGBA, LA) or a palette's / colour key's transparency; a picture without any is refused (it would paint the
    whole face). `reference_size` is (h, w) of the reference portrait."""
    if isinstance(source, (str, Path)):
        from cocosnet.data.io import open_checked

        im = open_checked(source, "makeup layer", user_input=True)
        name = str(source)
    elif isinstance(source, Image.Image):
        im = source
    else:
        arr = np.asarray(source)
        if arr.ndim != 3 or arr.shape[2] != 4 or arr.dtype != np.uint8:
            raise MakeupError(f"{name}: expected a uint8 HxWx4 RGBA array, got {arr.dtype} {arr.shape}")
        im = Image.fromarray(arr, "RGBA")
    has_alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
    if not has_alpha:
        raise MakeupError(f"{name}: the makeup layer has no alpha channel (mode {im.mode}); save it as an RGBA "
                          "PNG whose transparent pixels are left unpainted")
    rgba = np.asarray(im.convert("RGBA"))
    h, w = reference_size
    if rgba.shape[:2] != (h, w):
        raise MakeupError(f"{name}: the layer is {rgba.shape[1]}x{rgba.shape[0]} but the reference portrait is "
                          f"{w}x{h}; draw the layer on the reference, at its size")
    return rgba
