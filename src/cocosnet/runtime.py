"""How to run a model, apart from what the model is: device, precision, chunking, banding, memory.

`ModelConfig` travels with the weights (the state dict's shapes and the label set depend on it); `RuntimeOptions`
may change from one run to the next — another chunk size or band height gives the same images, and does not
block a `--resume`.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

AttentionImpl = Literal["auto", "dense", "sdpa", "chunked"]
InferenceDtype = Literal["float32", "bfloat16", "float16"]
ATTENTION_IMPLS: tuple[str, ...] = ("auto", "dense", "sdpa", "chunked")
INFERENCE_DTYPES: tuple[str, ...] = ("float32", "bfloat16", "float16")
BACKENDS: tuple[str, ...] = ("torch", "onnxruntime", "openvino")  # docs/export.md, "Backends"
CONV_ALGORITHMS: tuple[str, ...] = ("direct", "winograd")  # docs/model.md, "Winograd convolutions"


@dataclass(frozen=True)
class RuntimeOptions:
    """Where and how the networks run; none of it changes a weight, and only `dtype` changes the numbers."""

    device: str | torch.device = "auto"  # auto: CUDA, then Apple MPS, then the CPU
    dtype: InferenceDtype = "float32"  # inference autocast; float32 reproduces the official images
    # the correspondence warp softmax(θ·φᵀ/τ)·y: auto = the patch cosines summed from 1x1 products, in blocks
    # (memory-linear, k² fewer FLOPs; cocosnet.nn.patch_match); chunked = the unfolded match vectors in blocks;
    # dense = the official matrix; sdpa
    warp_impl: AttentionImpl = "auto"
    warp_chunk: int = 4096  # query rows per block of the chunked warp (capped at 16 MB of scores)
    attention_impl: AttentionImpl = "auto"  # the self-attention of the generator and the discriminator
    attention_chunk: int = 4096  # query rows per block of the chunked self-attention
    # inference: the generator's full-resolution block runs in row bands of this height (0: in one piece)
    band_rows: int = 64
    # CPU, glibc: every freed feature map goes straight back to the system (lower peak RSS, slower)
    low_memory: bool = False
    # the runtime the network runs in: PyTorch, or exported to ONNX Runtime / OpenVINO (CPU; same inputs, outputs
    # and errors); exported: the file `cocosnet export` wrote, or None to export at load (cocosnet.inference.backends)
    backend: str = "torch"
    exported: str | None = None
    # inference: weights and feature maps in channels-last layout (oneDNN's faster convolutions on the CPU; float32
    # stays within ~1e-5 of the official images, see docs/model.md "Speed and memory of inference")
    channels_last: bool = False
    # inference at bfloat16/float16: the weights are converted to that dtype once (no per-call casts, half the memory)
    cast_weights: bool = True
    # CPU throughput mode: a batch runs as this many concurrent streams, each with threads / streams intra-op
    # threads (cocosnet.inference.streams; serve: threads per slot). 1: one forward over the whole batch
    streams: int = 1
    # inference: the torch network compiled by torch.compile (inductor; on the CPU with freezing: weights as constants,
    # convolutions pre-packed for oneDNN); minutes on the first call of each input size (cocosnet.inference.compiled)
    compile: bool = False
    # CPU inference, eager torch backend: each block's memory-mapped weights are unmapped once it has run; they stay
    # in the page cache and fault back in on the next call (a lower peak RSS, the same numbers;
    # cocosnet.inference.weight_pages)
    unmap_weights: bool = True
    # inference, torch backend: "winograd" runs the big 3x3 convolutions by Winograd, float32 by F(4x4, 3x3) (4x
    # fewer multiplications, faster on the CPU; images within ~2e-5 of "direct"), bfloat16 the wide ones by
    # F(2x2, 3x3) (2.25x fewer; cocosnet.nn.winograd)
    conv_algorithm: str = "direct"

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.exported is not None and self.backend == "torch":
            raise ValueError("an exported network (--exported) runs with --backend onnxruntime or openvino")
        if self.compile is True and self.backend != "torch":
            raise ValueError(f"--compile compiles the PyTorch network; --backend {self.backend} runs an exported "
                             f"graph that {self.backend} optimises itself: drop --compile or use --backend torch")
        for name in ("warp_impl", "attention_impl"):
            if getattr(self, name) not in ATTENTION_IMPLS:
                raise ValueError(f"{name} must be one of {', '.join(ATTENTION_IMPLS)}, got {getattr(self, name)!r}")
        for name in ("warp_chunk", "attention_chunk"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not isinstance(self.streams, int) or isinstance(self.streams, bool) or self.streams < 1:
            raise ValueError(f"streams must be an integer >= 1, got {self.streams!r}")
        if self.band_rows < 0:
            raise ValueError(f"band_rows must be >= 0 (0: the last block in one piece), got {self.band_rows}")
        for name in ("low_memory", "channels_last", "cast_weights", "compile", "unmap_weights"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.dtype not in INFERENCE_DTYPES:
            raise ValueError(f"dtype must be float32, bfloat16 or float16, got {self.dtype!r}")
        if self.conv_algorithm not in CONV_ALGORITHMS:
            raise ValueError(f"conv_algorithm must be one of {', '.join(CONV_ALGORITHMS)}, got "
                             f"{self.conv_algorithm!r}")
        if self.conv_algorithm == "winograd":
            fp32 = self.dtype == "float32"
            clash = [flag for flag, on in (("--dtype " + self.dtype, self.dtype == "float16"),
                                           ("--channels-last with float32", fp32 and self.channels_last),
                                           ("--backend " + self.backend, self.backend != "torch")) if on]
            if clash:
                raise ValueError(f"--conv-algorithm winograd runs the PyTorch network, float32 NCHW or bfloat16; "
                                 f"it does not combine with {', '.join(clash)}")

    def replace(self, **changes: Any) -> RuntimeOptions:
        return dataclasses.replace(self, **changes)


RUNTIME_FIELDS: frozenset[str] = frozenset(f.name for f in dataclasses.fields(RuntimeOptions))


def split_runtime_options(runtime: RuntimeOptions | None, options: dict[str, Any]
                          ) -> tuple[RuntimeOptions, dict[str, Any]]:
    """`runtime` (default: the defaults) with the keyword `options` that name its fields applied, and the rest.

    Lets `Translator.from_official(..., device="cpu", band_rows=0, ngf=16)` take run options and model overrides
    side by side."""
    own = {k: v for k, v in options.items() if k in RUNTIME_FIELDS}
    rest = {k: v for k, v in options.items() if k not in RUNTIME_FIELDS}
    return (runtime or RuntimeOptions()).replace(**own), rest


def set_runtime(model: nn.Module, runtime: RuntimeOptions) -> nn.Module:
    """Run an already built model with `runtime`'s chunking and banding (weights untouched; same images)."""
    from cocosnet.nn import SelfAttention

    for m in model.modules():
        if isinstance(m, SelfAttention):
            m.impl, m.chunk = runtime.attention_impl, runtime.attention_chunk
        elif isinstance(getattr(m, "runtime", None), RuntimeOptions):
            m.runtime = runtime
    return model


def resolve_device(device: str | torch.device = "auto", *, mps: bool = True) -> torch.device:
    """"auto" -> CUDA when available (this process's GPU under torchrun: LOCAL_RANK), else MPS (when `mps`), else
    the CPU; a named device is checked for availability."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        if torch.cuda.is_available():
            device = "cuda"
        elif mps and getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        else:
            return torch.device("cpu")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError(f"--device {device} asked for, but PyTorch sees no CUDA device")
        if device == "cuda" and "LOCAL_RANK" in os.environ:
            return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    try:
        return torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"unknown device {device!r} (auto, cpu, cuda, cuda:N, mps)") from exc


__all__ = ["ATTENTION_IMPLS", "BACKENDS", "CONV_ALGORITHMS", "INFERENCE_DTYPES", "RUNTIME_FIELDS", "RuntimeOptions",
           "resolve_device", "set_runtime", "split_runtime_options"]
