"""Inputs as the official test path prepares them: photos bicubic-resized to [-1,1], label maps nearest-resized.

Accepts paths, PIL images, NumPy arrays and tensors, so the Python API, the CLI and the web app share one path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from cocosnet.presets import ModelConfig

Image.MAX_IMAGE_PIXELS = 64_000_000  # refuse decompression bombs early (PIL raises DecompressionBombError)


def _open_image(source: str | Path, what: str) -> Image.Image:
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    try:
        img = Image.open(path)
        img.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ValueError(f"{what} {path}: not a readable image ({exc})") from exc
    return img


def image_to_tensor(source: Any, size: int, what: str = "exemplar") -> torch.Tensor:
    """RGB photo -> float [3,size,size] in [-1,1] (BICUBIC resize, aspect not kept, as the official test path).

    A tensor is taken as already prepared ([3,H,W] or [1,3,H,W] in [-1,1]).
    """
    if isinstance(source, torch.Tensor):
        t = source.squeeze(0) if source.dim() == 4 and source.shape[0] == 1 else source
        if t.dim() != 3 or t.shape[0] != 3:
            raise ValueError(f"{what} tensor must be [3,H,W] in [-1,1], got {tuple(source.shape)}")
        if t.shape[-2:] != (size, size):
            t = torch.nn.functional.interpolate(t[None].float(), size=(size, size), mode="bicubic",
                                                align_corners=False)[0].clamp(-1, 1)
        return t.float()
    if isinstance(source, (str, Path)):
        img = _open_image(source, what)
    elif isinstance(source, Image.Image):
        img = source
    elif isinstance(source, np.ndarray):
        arr = source
        if arr.dtype != np.uint8:
            raise ValueError(f"{what} array must be uint8 HxWx3, got {arr.dtype}")
        img = Image.fromarray(arr)
    else:
        raise TypeError(f"{what}: expected a path, PIL image, uint8 array or tensor, got {type(source).__name__}")
    img = img.convert("RGB").resize((size, size), Image.BICUBIC)
    arr = np.asarray(img, dtype=np.float32) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1).mul(2).sub(1).contiguous()


def label_to_tensor(source: Any, cfg: ModelConfig, what: str = "label map") -> torch.Tensor:
    """Semantic input for this preset: class ids long [1,size,size] (NEAREST resize; 255 -> don't-care) or a dense
    map float [C,size,size] (.npy/.npz/.pt file, array or tensor; nearest-resized if its size differs)."""
    size = cfg.image_size
    name = str(source) if isinstance(source, (str, Path)) else what
    if cfg.label_nc:
        if isinstance(source, torch.Tensor):
            arr = source.squeeze().cpu().numpy()
        elif isinstance(source, (str, Path)):
            img = _open_image(source, what)
            if img.mode not in ("L", "P", "I", "I;16"):
                raise ValueError(f"{what} {source}: expected a single-channel label PNG of class ids, got mode "
                                 f"{img.mode} (a colour-coded map must be converted to ids first)")
            arr = np.asarray(img)
        elif isinstance(source, Image.Image):
            arr = np.asarray(source)
        else:
            arr = np.asarray(source)
        if arr.ndim != 2:
            raise ValueError(f"{name}: a label map must be HxW class ids, got shape {arr.shape}")
        arr = arr.astype(np.int64)
        if cfg.dontcare_id >= 0:
            arr = np.where(arr == 255, cfg.dontcare_id, arr)
        bad = np.unique(arr[(arr < 0) | (arr >= cfg.label_nc)])
        if bad.size:
            raise ValueError(f"{name}: label ids {bad[:10].tolist()} out of range 0..{cfg.label_nc - 1} "
                             f"for preset {cfg.name!r}")
        if arr.shape != (size, size):
            arr = np.asarray(Image.fromarray(arr.astype(np.int32)).resize((size, size), Image.NEAREST))
        return torch.from_numpy(arr.astype(np.int64))[None]
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"{what} not found: {path}")
        if path.suffix == ".npy":
            t = torch.from_numpy(np.load(path))
        elif path.suffix == ".npz":
            with np.load(path) as z:
                t = torch.from_numpy(z[z.files[0]])
        elif path.suffix in (".pt", ".pth"):
            t = torch.load(path, map_location="cpu", weights_only=True)
        else:
            raise ValueError(f"{path}: preset {cfg.name!r} takes a {cfg.semantic_nc}-channel map as .npy, .npz or "
                             f".pt (make one with `cocosnet prepare`)")
    else:
        t = torch.as_tensor(np.asarray(source)) if not isinstance(source, torch.Tensor) else source
    t = t.float()
    if t.dim() == 4 and t.shape[0] == 1:
        t = t[0]
    if t.dim() != 3 or t.shape[0] != cfg.semantic_nc:
        raise ValueError(f"{name}: preset {cfg.name!r} takes a [{cfg.semantic_nc},H,W] map, got {tuple(t.shape)}")
    if t.shape[-2:] != (size, size):
        t = torch.nn.functional.interpolate(t[None], size=(size, size), mode="nearest")[0]
    return t


def tensor_to_image(t: torch.Tensor) -> Image.Image:
    """[3,H,W] in [-1,1] -> PIL RGB."""
    arr = ((t.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    return Image.fromarray(arr)


def colorize_labels(label: torch.Tensor, cfg: ModelConfig) -> Image.Image:
    """Label ids [1,H,W] -> RGB using the preset's class colours (a fixed pseudo-random palette otherwise)."""
    ids = label.squeeze().cpu().numpy().astype(np.int64)
    palette = label_palette(cfg)
    return Image.fromarray(palette[np.clip(ids, 0, len(palette) - 1)])


def label_palette(cfg: ModelConfig) -> np.ndarray:
    """uint8 [label_nc,3]: the preset's class colours, or a fixed pseudo-random palette when it has none."""
    if cfg.class_colors:
        return np.array(cfg.class_colors, dtype=np.uint8)
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(max(cfg.label_nc, 1), 3), dtype=np.uint8)
