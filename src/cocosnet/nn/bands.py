"""Inference in row bands: a local computation run on horizontal strips, so its big maps exist one strip at a time."""

from __future__ import annotations

from collections.abc import Callable

import torch


def in_row_bands(compute: Callable[[int, int], torch.Tensor], height: int, rows: int, halo: int) -> torch.Tensor:
    """The [..., height, W] output of a computation whose output row depends only on rows within `halo` of it.

    `compute(a, b)` returns output rows a..b-1 from input rows a..b-1 (padding the image edge as the whole pass
    does); it is called for bands of `rows` output rows, each with `halo` rows of real neighbours on each side,
    which are dropped. The result is assembled in one preallocated tensor."""
    out = None
    for top in range(0, height, rows):
        bottom = min(height, top + rows)
        a, b = max(0, top - halo), min(height, bottom + halo)
        band = compute(a, b)
        if out is None:
            out = band.new_empty(*band.shape[:-2], height, band.shape[-1])
        out[..., top:bottom, :] = band[..., top - a : bottom - a, :]
    return out


__all__ = ["in_row_bands"]
