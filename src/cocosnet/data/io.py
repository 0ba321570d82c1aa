"""Image and label I/O shared by the data sets and by inference; atomic writes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from cocosnet.data.errors import DataError
from cocosnet.data.transforms import Augment, apply_augment, image_to_tensor, label_to_tensor
from cocosnet.fileio import atomic_write
from cocosnet.label_resize import resize_label
from cocosnet.presets import INPUT_IMAGE_FORMATS, MAX_INPUT_PIXELS

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
DONTCARE_VALUE = 255


def _size_hw(size: int | tuple[int, int] | None) -> tuple[int, int] | None:
    if size is None:
        return None
    return (int(size), int(size)) if isinstance(size, int | np.integer) else (int(size[0]), int(size[1]))


def open_checked(path: str | Path, what: str, user_input: bool = False) -> Image.Image:
    """A loaded PIL image from a file, or a DataError naming it: not found, not a picture; with user_input (the
    CLI's and the Python API's files, as the web API's uploads) also a format outside INPUT_IMAGE_FORMATS or more
    than MAX_INPUT_PIXELS pixels, read from the header before any pixel is decoded (a bomb costs nothing)."""
    path = Path(path)
    max_pixels = MAX_INPUT_PIXELS if user_input else None
    if not path.is_file():
        raise DataError(f"{what} file not found", path)
    try:
        with Image.open(path) as im:
            w, h = im.size
            if user_input and im.format not in INPUT_IMAGE_FORMATS:
                raise DataError(f"{im.format} pictures are not accepted ({', '.join(INPUT_IMAGE_FORMATS)})", path)
            if max_pixels is not None and w * h > max_pixels:
                raise DataError(f"{w}x{h} is {w * h} pixels, more than the limit of {max_pixels} pixels "
                                f"(read from the header; nothing was decoded)", path)
            im.load()
            return im
    except Image.DecompressionBombError as exc:  # PIL's own check, also from the header
        limit = f" (inputs are limited to {MAX_INPUT_PIXELS} pixels)" if user_input else ""
        raise DataError(f"refused from its header as a decompression bomb, nothing decoded: {exc}{limit}",
                        path) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"unreadable {what} ({exc.__class__.__name__}: {exc})", path) from exc


def read_image(path: str | Path, user_input: bool = False) -> Image.Image:
    """An RGB PIL image, or a DataError naming the file (user_input: see `open_checked`)."""
    return open_checked(path, "image", user_input).convert("RGB")


def read_label_pixels(path: str | Path, user_input: bool = False) -> np.ndarray:
    """A label picture as it is stored: HxW integer ids for single-channel images (palette PNGs give their
    indices), HxWx3 RGB otherwise (colour-coded or grey; see `cocosnet.viz.ids_from_colours`)."""
    im = open_checked(path, "label map", user_input)
    if im.mode in ("L", "P", "I", "I;16", "1"):
        return np.asarray(im).astype(np.int64)
    if im.mode not in ("RGB", "RGBA", "LA"):
        raise DataError(f"a label map must be a single-channel PNG of class ids, got mode {im.mode}", path)
    return np.asarray(im.convert("RGB"))


def read_label_array(path: str | Path) -> np.ndarray:
    """A single-channel label PNG as an integer HxW array (palette PNGs give their indices; a grey RGB picture
    gives its values)."""
    arr = read_label_pixels(path)
    if arr.ndim == 2:
        return arr
    if np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 0], arr[..., 2]):
        return arr[..., 0].astype(np.int64)
    raise DataError("a label map must be a single-channel PNG of class ids, got mode RGB", path)


def check_label_ids(
    lab: np.ndarray, label_nc: int, source: str | Path = "<array>", dontcare: int | None = DONTCARE_VALUE
) -> np.ndarray:
    """Map don't-care (255) to label_nc-1 and refuse ids outside 0..label_nc-1 (DataError naming the file)."""
    lab = np.asarray(lab).astype(np.int64)
    if dontcare is not None:
        lab = np.where(lab == dontcare, label_nc - 1, lab)
    bad = (lab < 0) | (lab >= label_nc)
    if bad.any():
        vals = np.unique(lab[bad])
        shown = ", ".join(str(int(v)) for v in vals[:10]) + (" ..." if len(vals) > 10 else "")
        note = f" ({dontcare} = don't-care)" if dontcare is not None else ""
        raise DataError(f"label ids out of range 0..{label_nc - 1}{note}: found {shown}", source)
    return lab


def _as_pil_rgb(src: Any, user_input: bool = False) -> tuple[Image.Image, str]:
    if isinstance(src, str | os.PathLike):
        return read_image(src, user_input), str(src)
    if isinstance(src, Image.Image):
        return src.convert("RGB"), "<PIL image>"
    if isinstance(src, torch.Tensor):
        src = src.detach().cpu().numpy()
        if src.ndim == 3 and src.shape[0] in (1, 3) and src.shape[-1] not in (1, 3):
            src = src.transpose(1, 2, 0)
    arr = np.asarray(src)
    if arr.dtype != np.uint8:
        if arr.dtype.kind == "f":
            lo = float(arr.min()) if arr.size else 0.0
            arr = (arr + 1) * 127.5 if lo < 0 else arr * 255.0  # [-1,1] or [0,1]
        arr = np.clip(np.round(arr), 0, 255).astype(np.uint8)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, -1)
    if arr.ndim != 3 or arr.shape[-1] not in (1, 3, 4):
        raise DataError(f"an image array must be HxW, HxWx3 or HxWx4, got shape {arr.shape}", "<array>")
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, -1)
    return Image.fromarray(np.ascontiguousarray(arr[..., :3])), "<array>"


def load_image(src: Any, size: int | tuple[int, int] | None = 256, user_input: bool = False) -> torch.Tensor:
    """Path, PIL image or array (uint8, or float in [0,1] / [-1,1]) -> float32 [3,H,W] in [-1,1].
    user_input: a path is checked as in `open_checked`.

    Resized with BICUBIC to `size` (int: square, aspect not kept, as the official preprocessing; None: as is).
    """
    pil, _ = _as_pil_rgb(src, user_input)
    hw = _size_hw(size)
    if hw is not None and pil.size != (hw[1], hw[0]):
        pil = pil.resize((hw[1], hw[0]), Image.BICUBIC)
    return image_to_tensor(np.asarray(pil))


def load_label(
    src: Any, size: int | tuple[int, int] | None, label_nc: int, dontcare: int | None = DONTCARE_VALUE,
    name: str = "<array>",
) -> torch.Tensor:
    """Path or integer array -> torch.long [1,H,W]: NEAREST resize, `dontcare` (255) -> label_nc-1 (None: no
    don't-care class), other ids out of range -> DataError naming the file (or `name`) and the bad values."""
    if isinstance(src, str | os.PathLike):
        lab, name = read_label_array(src), str(src)
    else:
        if isinstance(src, torch.Tensor):
            src = src.detach().cpu().numpy()
        lab = np.asarray(src)
        if lab.ndim == 3 and lab.shape[0] == 1:
            lab = lab[0]
        if lab.ndim != 2:
            raise DataError(f"a label map must be HxW, got shape {lab.shape}", name)
        if lab.dtype.kind == "f":
            if not np.all(lab == np.round(lab)):
                raise DataError("a label map must hold integer class ids", name)
        lab = lab.astype(np.int64)
    lab = check_label_ids(lab, label_nc, name, dontcare)
    hw = _size_hw(size)
    if hw is not None:
        lab = resize_label(lab, hw)
    return label_to_tensor(lab)


def load_pair(
    image_path: Path, label_path: Path, aug: Augment, label_nc: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """An image and its label map, checked (same size, ids in range) and transformed with the same `aug`."""
    img = read_image(image_path)
    lab = read_label_array(label_path)
    if lab.shape != (img.height, img.width):
        raise DataError(
            f"label size {lab.shape[1]}x{lab.shape[0]} does not match image {image_path.name} "
            f"({img.width}x{img.height})",
            label_path,
        )
    lab = check_label_ids(lab, label_nc, label_path)
    img_t = image_to_tensor(apply_augment(img, aug, "bicubic"))
    lab_t = label_to_tensor(apply_augment(lab.astype(np.int32), aug, "nearest"))
    return img_t, lab_t


def save_image(path: str | Path, img: np.ndarray | Image.Image | torch.Tensor) -> Path:
    """Write a PNG/JPEG atomically; tensors are [3,H,W] in [-1,1]."""
    if isinstance(img, torch.Tensor):
        from cocosnet.data.transforms import tensor_to_image

        img = tensor_to_image(img)
    pil = img if isinstance(img, Image.Image) else Image.fromarray(np.asarray(img))
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}.get(Path(path).suffix.lower(), "PNG")
    options = {"quality": 95} if fmt == "JPEG" else {}
    return atomic_write(path, lambda f: pil.save(f, format=fmt, **options))


def save_array(path: str | Path, **arrays: np.ndarray) -> Path:
    """Write a compressed .npz atomically."""

    return atomic_write(path, lambda f: np.savez_compressed(f, **arrays))


def list_images(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
