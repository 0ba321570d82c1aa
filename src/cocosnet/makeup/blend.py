"""Blending a warped makeup layer into a photo: multiply (as the authors described their demo), normal, soft-light.

All in float [0,1] RGB. The layer's alpha times `opacity` mixes the blend result over the photo:
out = base + a * (B(base, colour) - base).
"""

from __future__ import annotations

import numpy as np

BLEND_MODES = ("multiply", "normal", "soft-light")


def _soft_light(base: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """The W3C compositing spec's soft-light: darkens with colour < 0.5, lightens with colour > 0.5."""
    dark = base - (1 - 2 * colour) * base * (1 - base)
    d = np.where(base <= 0.25, ((16 * base - 12) * base + 4) * base, np.sqrt(base))
    light = base + (2 * colour - 1) * (d - base)
    return np.where(colour <= 0.5, dark, light)


def blend_colour(base: np.ndarray, colour: np.ndarray, mode: str) -> np.ndarray:
    if mode == "multiply":
        return base * colour
    if mode == "normal":
        return colour
    if mode == "soft-light":
        return _soft_light(base, colour)
    raise ValueError(f"unknown blend mode {mode!r}; choose one of {', '.join(BLEND_MODES)}")


def unpremultiply(layer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Premultiplied float HxWx4 -> (straight colour HxWx3, alpha HxWx1), colour 0 where alpha is 0."""
    alpha = np.clip(layer[..., 3:4], 0.0, 1.0)
    colour = np.divide(layer[..., :3], alpha, out=np.zeros_like(layer[..., :3]), where=alpha > 1e-6)
    return np.clip(colour, 0.0, 1.0), alpha


def blend_layer(photo: np.ndarray, layer: np.ndarray, mode: str = "multiply", opacity: float = 1.0) -> np.ndarray:
    """photo uint8 HxWx3, layer premultiplied float HxWx4 in [0,1] of the same size -> uint8 HxWx3."""
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be in [0, 1], got {opacity}")
    if layer.shape[:2] != photo.shape[:2]:
        raise ValueError(f"layer is {layer.shape[1]}x{layer.shape[0]}, the photo {photo.shape[1]}x{photo.shape[0]}")
    base = photo[..., :3].astype(np.float32) / 255.0
    colour, alpha = unpremultiply(layer.astype(np.float32))
    out = base + alpha * opacity * (blend_colour(base, colour, mode) - base)
    return np.clip(np.round(out * 255.0), 0, 255).astype(np.uint8)
