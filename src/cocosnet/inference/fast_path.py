"""The inference layout of a model: weights converted once to the run's dtype and memory format.

Under autocast every convolution casts its float32 weight to bfloat16/float16 on each call (a full pass over the
weights per forward, and a second copy of them while it runs); storing the weights in that dtype once removes both.
Channels-last weights make oneDNN pick its NHWC kernels, and each convolution's output then stays channels-last, so
the layout holds through the network (a 3x3 convolution here runs ~1.5x faster channels-last than NCHW). Neither
changes which float operations a layer performs, only their order inside a reduction (channels-last) or their
precision (the cast); the bounds are in docs/model.md and tests/inference/test_fast_path.py.
"""

from __future__ import annotations

import torch
from torch import nn

from cocosnet.runtime import RuntimeOptions


def prepare_for_inference_(model: nn.Module, runtime: RuntimeOptions) -> bool:
    """Convert `model` in place for `runtime` (after spectral norm is folded). Returns True when the weights were
    cast to a half-precision dtype (they then no longer hold the float32 values exactly)."""
    cast = runtime.dtype != "float32" and runtime.cast_weights
    if cast:
        model.to(getattr(torch, runtime.dtype))
    if runtime.channels_last:
        model.to(memory_format=torch.channels_last)  # 4-D weights only; biases and vectors are unaffected
    return cast


__all__ = ["prepare_for_inference_"]
