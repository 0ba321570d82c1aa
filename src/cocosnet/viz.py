"""Pictures for people: class palettes, label maps in colour, and image grids.

Every place that shows a label map or lays images out in a grid draws it from here, so a painter, an evaluation
grid and a TensorBoard preview agree on what a class looks like. Two fallback palettes exist for checkpoints
without class colours, each kept where it has always been used: the fixed pseudo-random `label_palette` (CLI,
app, evaluation) and the PASCAL VOC palette of the training previews (`voc_palette`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from cocosnet.fileio import atomic_write
from cocosnet.presets import LANDSCAPE_COLORS, ModelConfig

Palette = np.ndarray  # uint8 [K,3]: the colour of class k in row k


# ------------------------------------------------------------------------------------------------- palettes
def voc_palette(n: int) -> Palette:
    """n distinct colours, the bit-interleaved PASCAL VOC scheme (class 0 black)."""
    out = np.zeros((n, 3), dtype=np.uint8)
    for i in range(n):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        out[i] = (r, g, b)
    return out


def class_palette(num_classes: int, class_colors: Sequence[Sequence[int]] = ()) -> Palette:
    """The given class colours, or a fixed pseudo-random palette of `num_classes` (at least one) colours."""
    if class_colors:
        return np.array(class_colors, dtype=np.uint8)
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(max(num_classes, 1), 3), dtype=np.uint8)


def label_palette(cfg: ModelConfig) -> Palette:
    """The palette of a checkpoint: its preset's class colours, or the fixed pseudo-random one."""
    return class_palette(cfg.label_nc, cfg.class_colors)


def default_palette(num_classes: int) -> Palette:
    """The palette of a data set known only by its class count: the landscape painter's colours for its class
    count, the fixed pseudo-random palette otherwise."""
    colours = LANDSCAPE_COLORS if num_classes == len(LANDSCAPE_COLORS) else ()
    return class_palette(num_classes, colours)


# ------------------------------------------------------------------------------------------- label colouring
def colorize(ids: np.ndarray, palette: Palette | Sequence[Sequence[int]]) -> np.ndarray:
    """Class ids HxW -> uint8 RGB HxWx3; ids past the palette take its last colour."""
    palette = np.asarray(palette, dtype=np.uint8)
    return palette[np.clip(np.asarray(ids, dtype=np.int64), 0, len(palette) - 1)]


def ids_from_colours(rgb: np.ndarray, palette: Palette | Sequence[Sequence[int]]) -> np.ndarray:
    """The inverse of `colorize`: an HxWx3 label picture -> HxW int64 class ids, for the CLI and the API alike.

    A colour-coded map uses the palette's colours exactly (a colour listed twice is its first class); a grey picture
    (R = G = B everywhere) that is not colour-coded carries the ids as its values. Anything else: ValueError naming
    how many colours are not in the palette and the first few."""
    rgb = np.asarray(rgb)[..., :3]
    # 24-bit colour codes in 4 bytes a pixel, and searchsorted rather than np.unique's return_inverse (37 bytes a
    # pixel at its peak): the app's memory bound under a flood counts on this (app/state.py)
    code = rgb[..., 0].astype(np.uint32) << 16
    code |= rgb[..., 1].astype(np.uint32) << 8
    code |= rgb[..., 2]
    pal = np.asarray(palette, dtype=np.int64)
    lookup = {int(c): i for i, c in reversed(list(enumerate((pal[:, 0] << 16) | (pal[:, 1] << 8) | pal[:, 2])))}
    colours = np.unique(code)
    missing = [int(c) for c in colours if int(c) not in lookup]
    if not missing:
        return np.array([lookup[int(c)] for c in colours], dtype=np.int64)[np.searchsorted(colours, code)]
    if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2]):
        return rgb[..., 0].astype(np.int64)
    shown = ", ".join(f"#{c:06x}" for c in missing[:5])
    raise ValueError(f"an RGB label map must use the palette colours of the classes; {len(missing)} colour(s) are "
                     f"not in it ({shown}); or send a single-channel PNG of class ids instead")


def colorize_labels(label: torch.Tensor, cfg: ModelConfig) -> Image.Image:
    """Label ids [1,H,W] -> an RGB picture in the checkpoint's palette (`label_palette`)."""
    return Image.fromarray(colorize(label.squeeze().cpu().numpy(), label_palette(cfg)))


def semantic_cell(label: torch.Tensor, palette: Palette) -> torch.Tensor:
    """One semantic input [C,H,W] as a grid cell: class ids [1,H,W] coloured with `palette` (uint8 [3,H,W]);
    a dense map as its first three channels (pose drawings) or its first channel (edges), float in [-1,1]."""
    if not label.is_floating_point():
        return torch.from_numpy(np.ascontiguousarray(colorize(label[0].cpu().numpy(), palette))).permute(2, 0, 1)
    channels = label[:3] if label.shape[0] >= 3 else label[:1]
    return channels.float().cpu().clamp(0, 1) * 2 - 1


def semantic_preview(semantic: torch.Tensor, cfg: ModelConfig) -> torch.Tensor:
    """An encoded semantic batch [B,C,H,W] as RGB [B,3,H,W] in [0,1]: class colours for one-hot label maps (the
    preset's when it has one per class, else `voc_palette`), the pose skeleton (first three channels) for
    20-channel pose maps, the first channel (edges) in grey otherwise."""
    semantic = semantic.detach().float().cpu()
    if cfg.label_nc:
        fits = len(cfg.class_colors) >= cfg.label_nc
        palette = np.array(cfg.class_colors, dtype=np.uint8) if fits else voc_palette(cfg.label_nc)
        colours = torch.from_numpy(palette).float() / 255.0
        return colours[semantic.argmax(1)].permute(0, 3, 1, 2)
    if semantic.shape[1] == 20:
        return semantic[:, :3].clamp(0, 1)
    return semantic[:, :1].clamp(0, 1).expand(-1, 3, -1, -1)


# ------------------------------------------------------------------------------------------------------ grids
def to_unit(x: torch.Tensor) -> torch.Tensor:
    """Images in [-1,1] -> [0,1] (float32, detached)."""
    return (x.detach().float() + 1) / 2


def grid_cell(image: torch.Tensor | None, size: tuple[int, int]) -> torch.Tensor:
    """(3,H,W) float in [0,1] at `size` from a (C,H,W) picture, C in {1,3}: float in [-1,1] or uint8 (a
    leading batch axis of one is dropped). None gives a white cell. Resized bilinearly with antialiasing."""
    if image is None:
        return torch.ones(3, *size)
    if image.dim() == 4 and image.shape[0] == 1:
        image = image[0]
    if image.dim() != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"grid cells must be (1 or 3, H, W); got {tuple(image.shape)}")
    x = image.detach().cpu()
    x = x.float() / 255 if x.dtype == torch.uint8 else (x.float().clamp(-1, 1) + 1) / 2
    x = x.expand(3, -1, -1)
    if tuple(x.shape[-2:]) != size:
        x = F.interpolate(x[None], size=size, mode="bilinear", align_corners=False, antialias=True)[0]
    return x.clamp(0, 1)


def grid(rows: Sequence[Sequence[torch.Tensor | None]], padding: int = 0) -> torch.Tensor:
    """Lay out cells (3,H,W) in [0,1], all of the first cell's size, row by row on a white canvas with `padding`
    pixels around each; a short row or a None cell leaves white. Returns [3, rows·(H+p)+p, cols·(W+p)+p]."""
    first = next((c for row in rows for c in row if c is not None), None)
    if first is None:
        raise ValueError("a grid needs at least one image")
    h, w = int(first.shape[-2]), int(first.shape[-1])
    ncols = max(len(row) for row in rows)
    canvas = torch.ones(3, len(rows) * (h + padding) + padding, ncols * (w + padding) + padding)
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            if cell is not None:
                top, left = padding + r * (h + padding), padding + c * (w + padding)
                canvas[:, top : top + h, left : left + w] = cell
    return canvas


def save_grid(rows: Sequence[Sequence[torch.Tensor | None]], path: str | os.PathLike, padding: int = 2) -> Path:
    """A PNG grid, one row per sample. Cells are (C,H,W) pictures as `grid_cell` takes them (RGB or grey; float
    in [-1,1] or uint8) or None (blank), all resized to the first picture's size. Written atomically."""
    if not rows or not rows[0]:
        raise ValueError("a grid needs at least one row with one cell")
    first = next((c for row in rows for c in row if c is not None), None)
    if first is None:
        raise ValueError("a grid needs at least one image")
    size = (int(first.shape[-2]), int(first.shape[-1]))
    canvas = grid([[grid_cell(cell, size) for cell in row] for row in rows], padding)
    array = (canvas * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return atomic_write(path, lambda f: Image.fromarray(array).save(f, format="PNG"))


# --------------------------------------------------------------------------------- correspondence inspector
def confidence_image(confidence: torch.Tensor) -> Image.Image:
    """A match-confidence map [1,H,W] or [H,W] in [0,1] as a greyscale picture: white = 1 (one exemplar
    position alone), black = 0 (docs/inspector.md)."""
    c = confidence.detach().float().cpu().reshape(confidence.shape[-2:]).clamp(0, 1)
    return Image.fromarray((c * 255).round().to(torch.uint8).numpy(), mode="L")


def flow_image(flow: torch.Tensor, max_magnitude: float | None = None) -> tuple[Image.Image, float]:
    """A flow [2,H,W] of (dx, dy) pixels (y down) on the colour wheel: the hue is the direction (right red,
    down yellow-green, left cyan, up violet), the saturation the length over `max_magnitude` (default: the
    longest in the map; white = no displacement). Returns the picture and the magnitude that is full colour."""
    f = flow.detach().float().cpu().reshape(2, *flow.shape[-2:])
    magnitude = torch.linalg.vector_norm(f, dim=0)
    scale = float(magnitude.max()) if max_magnitude is None else float(max_magnitude)
    scale = max(scale, 1e-6)
    hue = torch.remainder(torch.atan2(f[1], f[0]), 2 * torch.pi) / (2 * torch.pi)
    hsv = torch.stack([hue, (magnitude / scale).clamp(0, 1), torch.ones_like(hue)], -1)
    hsv = (hsv * 255).round().clamp(0, 255).to(torch.uint8).numpy()
    return Image.fromarray(hsv, mode="HSV").convert("RGB"), scale
