"""The inference layout of a model: weights converted once to the run's dtype and memory format.

Under autocast every convolution casts its float32 weight to bfloat16/float16 on each call (a full pass over the
weights per forward, and a second copy of them while it runs); storing the weights in that dtype once removes both.
Channels-last weights make oneDNN pick its NHWC kernels, and each convolution's output then stays channels-last, so
the layout holds through the network (a 3x3 convolution here runs ~1.5x faster channels-last than NCHW). Neither
changes which float operations a layer performs, only their order inside a reduction (channels-last) or their
precision (the cast); the bounds are in docs/model.md and tests/inference/test_fast_path.py.

The conversion goes one tensor at a time and hands each float32 source's pages back as soon as its copy exists
(`cocosnet.memory.MappedFilePages`): the weights of a memory-mapped checkpoint otherwise stay resident beside their
converted copies until the last of them is dropped (ADE20k's 0.62 GB float32 beside 0.31 GB of bf16).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from cocosnet.memory import MappedFilePages
from cocosnet.runtime import RuntimeOptions


@dataclass
class WeightConversion:
    """What a run does to each floating-point weight and buffer: cast to `dtype` (None: keep it), channels-last
    for 4-D tensors. Made after the weights are loaded (it notes which memory is mapped from a file)."""

    dtype: torch.dtype | None
    channels_last: bool
    pages: MappedFilePages = field(default_factory=MappedFilePages, repr=False)

    def __call__(self, t: torch.Tensor) -> torch.Tensor:
        """t converted; t itself when it already is."""
        if not t.is_floating_point():
            return t
        # one copy for both (as Module.to, 1x1 kernels get the channels-last strides too)
        layout = torch.channels_last if self.channels_last and t.dim() == 4 else torch.preserve_format
        return t.to(dtype=self.dtype or t.dtype, memory_format=layout)

    def replace(self, source: torch.Tensor, value: torch.Tensor | None = None) -> torch.Tensor:
        """`value` (default: `source`) converted, for a caller that drops `source`: when a copy was made, the
        source's file-mapped pages are handed back."""
        new = self(source if value is None else value)
        if new.untyped_storage().data_ptr() != source.untyped_storage().data_ptr():
            self.pages.release(source)
        return new


def weight_conversion(runtime: RuntimeOptions) -> WeightConversion | None:
    """The conversion `runtime` asks of the torch backend's weights; None when the float32 NCHW weights stay."""
    dtype = getattr(torch, runtime.dtype) if runtime.dtype != "float32" and runtime.cast_weights else None
    if dtype is None and not runtime.channels_last:
        return None
    return WeightConversion(dtype, runtime.channels_last)


def convert_weights_(model: nn.Module, convert: WeightConversion) -> None:
    """Apply `convert` to every parameter and buffer of `model` in place, one tensor at a time (the values of
    `model.to(dtype)` / `model.to(memory_format=torch.channels_last)`)."""
    with torch.no_grad():
        for module in model.modules():
            for param in module._parameters.values():
                if param is not None:
                    param.data = convert.replace(param.data)
            for name, buf in module._buffers.items():
                if buf is not None:
                    module._buffers[name] = convert.replace(buf)


def prepare_for_inference_(model: nn.Module, convert: WeightConversion | None) -> bool:
    """Convert `model` in place by `convert` (`weight_conversion(runtime)`; None leaves it), after spectral norm is
    folded (`fold_spectral_norm_(model, convert.replace)` converts the folded weights as it makes them). Returns
    True when the weights were cast to a half-precision dtype (they then no longer hold the float32 values)."""
    if convert is None:
        return False
    convert_weights_(model, convert)
    return convert.dtype is not None


__all__ = ["WeightConversion", "convert_weights_", "prepare_for_inference_", "weight_conversion"]
