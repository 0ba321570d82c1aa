"""Class-id maps resized by nearest neighbour, the two ways the official code does it.

They pick different pixels (torch takes floor(i·in/out), PIL the pixel under each output pixel's centre), so
each keeps its own job: `resize_ids` inside the networks (as resizing the one-hot map with
`F.interpolate(mode="nearest")`), `resize_label` when preparing inputs (PIL's NEAREST, as the official data
loader resizes label files). Shared by the model, the data layer, inference and the app.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


def resize_ids(ids: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Nearest resize of class ids [B,H,W] (the same samples as nearest-resizing their one-hot map)."""
    if ids.shape[-2:] == tuple(size):
        return ids
    return F.interpolate(ids[:, None].float(), size=size, mode="nearest")[:, 0].long()


def one_hot_map(ids: torch.Tensor, classes: int, size: tuple[int, int] | None = None) -> torch.Tensor:
    """Class ids [B,H,W] -> float32 one-hot map [B,classes,H,W]; with `size`, of the ids nearest-resized first,
    which equals nearest-resizing the full one-hot map (the same samples of 0s and 1s) at a fraction of the
    memory."""
    if size is not None:
        ids = resize_ids(ids, size)
    return torch.zeros(ids.shape[0], classes, *ids.shape[1:], device=ids.device).scatter_(1, ids[:, None], 1.0)


def resize_label(label: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Nearest resize of an HxW class-id array to `size` (int: square; (H, W)) with PIL, as int64."""
    h, w = (size, size) if isinstance(size, int | np.integer) else size
    if label.shape == (h, w):
        return label
    return np.asarray(Image.fromarray(label.astype(np.int32)).resize((w, h), Image.NEAREST)).astype(np.int64)
