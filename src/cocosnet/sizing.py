"""The working size of a translation: inputs of any aspect ratio, rounded to what the networks take.

The generator starts from a latent at 1/32 of the image (and the correspondence works at 1/4, the feature
stride), so the working size is a multiple of 32 on each side. Inputs are *resized* to it, not padded: padding
would add layout the correspondence matches against and the generator paints, while a resize is what the
official loader does to every input anyway. The output is resized back to the asked size when rounding
changed it.

Rule (`output_size`): a square input keeps the preset's `image_size` (exactly today's images); a non-square one
keeps its aspect ratio with its short side at `image_size`; `size=N` sets that short side, `size=(H, W)` the
output size outright.
"""

from __future__ import annotations

import re

from cocosnet.presets import MAX_INPUT_PIXELS

MULTIPLE = 32  # the generator's first latent is 1/32 of the image; 32 is also a multiple of the feature stride

Size = int | tuple[int, int] | None


def parse_size(text: str) -> int | tuple[int, int]:
    """'256' -> 256 (the short side), '256x384' -> (256, 384) (height x width)."""
    m = re.fullmatch(r"\s*(\d+)\s*(?:[xX]\s*(\d+))?\s*", text)
    if not m:
        raise ValueError(f"size must be N (short side) or HxW (height x width), got {text!r}")
    return int(m[1]) if m[2] is None else (int(m[1]), int(m[2]))


def output_size(input_hw: tuple[int, int], image_size: int, size: Size = None) -> tuple[int, int]:
    """The (H, W) of the output for an input of `input_hw` (see the module docstring)."""
    if isinstance(size, tuple):
        h, w = (int(v) for v in size)
    else:
        short = image_size if size is None else int(size)
        ih, iw = input_hw
        if ih == iw:
            h = w = short
        elif ih < iw:
            h, w = short, round(short * iw / ih)
        else:
            h, w = round(short * ih / iw), short
    if h <= 0 or w <= 0:
        raise ValueError(f"size must be positive, got {h}x{w}")
    return h, w


def working_size(out_hw: tuple[int, int]) -> tuple[int, int]:
    """`out_hw` rounded to the nearest multiple of 32 on each side; refuses sizes the model cannot take."""
    h, w = out_hw
    if min(h, w) < MULTIPLE // 2:
        raise ValueError(f"size {h}x{w} is too small: the generator's first latent is 1/{MULTIPLE} of the image, "
                         f"so each side must be at least {MULTIPLE} (after rounding to a multiple of {MULTIPLE})")
    wh, ww = (max(MULTIPLE, MULTIPLE * round(n / MULTIPLE)) for n in (h, w))
    if wh * ww > MAX_INPUT_PIXELS or h * w > MAX_INPUT_PIXELS:
        raise ValueError(f"size {h}x{w} is over the limit of {MAX_INPUT_PIXELS} pixels (presets.MAX_INPUT_PIXELS)")
    return wh, ww


__all__ = ["MULTIPLE", "output_size", "parse_size", "working_size"]
