"""The official preprocessing `resize_and_crop`: resize to load_size x load_size (aspect not kept), crop
crop_size (random in training, at (0, 0) at test), optional horizontal flip. Images BICUBIC, label maps
NEAREST, dense float/uint8 maps BILINEAR (as PIL does them in the official code).

Also the one home of the picture <-> tensor conversions (images in [-1,1], class ids as long, dense maps),
used by the data sets, inference and the commands."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image


@dataclass(frozen=True)
class Augment:
    """One draw of the geometric augmentation, shared by an image and its label (and its encodings)."""

    load_size: int = 256
    crop_size: int = 256
    x: int = 0
    y: int = 0
    flip: bool = False
    out_hw: tuple[int, int] | None = None  # test time at another size: resize to (H, W), no crop, no flip

    def __post_init__(self) -> None:
        if self.out_hw is not None and (self.x or self.y or self.flip):
            raise ValueError("an Augment with out_hw resizes only: no crop position, no flip")
        if self.crop_size > self.load_size:
            raise ValueError(f"crop_size ({self.crop_size}) must not exceed load_size ({self.load_size})")

    @property
    def resize_hw(self) -> tuple[int, int]:
        """The (H, W) a picture is resized to before any crop: out_hw, else load_size x load_size."""
        return self.out_hw if self.out_hw is not None else (self.load_size, self.load_size)


def resize_augment(out_hw: tuple[int, int]) -> Augment:
    """The test transform at a size (H, W) of any aspect ratio (`cocosnet evaluate --size HxW`): a plain resize,
    no crop, no flip. The official square `resize_and_crop` (training, parity) never takes this path."""
    h, w = (int(v) for v in out_hw)
    return Augment(max(h, w), min(h, w), out_hw=(h, w))


def default_load_size(crop_size: int, train: bool) -> int:
    """286 for 256 in training (the official ratio), the crop size itself at test."""
    return int(round(crop_size * 286 / 256)) if train else crop_size


def draw_augment(rng: np.random.Generator | None, load_size: int, crop_size: int, flip: bool) -> Augment:
    """Random crop position and flip (rng given: training), or the test transform (rng None: crop at 0, 0)."""
    if rng is None:
        return Augment(load_size, crop_size, 0, 0, False)
    span = load_size - crop_size
    x = int(rng.integers(0, span + 1))
    y = int(rng.integers(0, span + 1))
    return Augment(load_size, crop_size, x, y, bool(flip and rng.random() > 0.5))


_RESAMPLE = {"bicubic": Image.BICUBIC, "nearest": Image.NEAREST, "bilinear": Image.BILINEAR}


def apply_augment(arr: np.ndarray | Image.Image, aug: Augment, mode: str) -> np.ndarray:
    """Resize (`mode`: bicubic/nearest/bilinear) to `aug.resize_hw`, crop and flip an HxW or HxWxC uint8/float32
    array."""
    if isinstance(arr, Image.Image):
        pil = arr
    else:
        a = np.asarray(arr)
        if a.ndim == 3 and a.dtype != np.uint8:  # multi-channel float maps: channel by channel
            return np.stack([apply_augment(a[..., c], aug, mode) for c in range(a.shape[-1])], -1)
        if a.dtype not in (np.uint8, np.float32, np.int32):
            a = a.astype(np.float32) if a.dtype.kind == "f" else a.astype(np.int32)
        pil = Image.fromarray(a)
    h, w = aug.resize_hw
    if pil.size != (w, h):
        pil = pil.resize((w, h), _RESAMPLE[mode])
    if aug.out_hw is None and (aug.crop_size != aug.load_size or aug.x or aug.y):
        pil = pil.crop((aug.x, aug.y, aug.x + aug.crop_size, aug.y + aug.crop_size))
    if aug.flip:
        pil = pil.transpose(Image.FLIP_LEFT_RIGHT)
    return np.asarray(pil)


def image_to_tensor(img: np.ndarray | Image.Image) -> torch.Tensor:
    """RGB uint8 HxWx3 (an array or a PIL image) -> float32 [3,H,W] in [-1,1] (ToTensor + Normalize(0.5, 0.5))."""
    t = torch.from_numpy(np.array(img, dtype=np.uint8)).permute(2, 0, 1).float()
    return t.div_(127.5).sub_(1.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Images in [-1,1] (any leading axes) -> uint8 in [0,255], clamped and rounded to the nearest."""
    return ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def tensor_to_image(t: torch.Tensor) -> Image.Image:
    """float [3,H,W] in [-1,1] -> PIL RGB (`to_uint8`; `np.asarray` gives HxWx3)."""
    return Image.fromarray(to_uint8(t).permute(1, 2, 0).cpu().numpy())


def label_to_tensor(lab: np.ndarray) -> torch.Tensor:
    """Integer HxW -> torch.long [1,H,W]."""
    return torch.from_numpy(np.array(lab, dtype=np.int64))[None]


def maps_to_tensor(maps: np.ndarray) -> torch.Tensor:
    """uint8 HxWxC (0..255) or float HxWxC -> float32 [C,H,W] (uint8 divided by 255, as ToTensor does)."""
    a = np.array(maps)
    if a.ndim == 2:
        a = a[..., None]
    t = torch.from_numpy(a).permute(2, 0, 1).float()
    return t.div_(255.0) if maps.dtype == np.uint8 else t
