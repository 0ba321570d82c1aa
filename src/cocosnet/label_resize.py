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


def resize_label(label: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Nearest resize of an HxW class-id array to `size` (int: square; (H, W)) with PIL, as int64."""
    h, w = (size, size) if isinstance(size, int | np.integer) else size
    if label.shape == (h, w):
        return label
    return np.asarray(Image.fromarray(label.astype(np.int32)).resize((w, h), Image.NEAREST)).astype(np.int64)
