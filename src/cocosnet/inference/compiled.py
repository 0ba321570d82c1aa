"""The network compiled by torch.compile (inductor), opt-in: `RuntimeOptions(compile=True)`, `--compile`.

What is compiled: the whole `CoCosNet.forward` of a translation, one graph (torch._dynamo.explain: no graph break).
Its Python control flow is unrolled at trace time (the generator's row bands, the chunked warp's blocks, the
in-place `cocosnet.nn.inplace.arithmetic()` formulas, which functionalisation turns back into fused pure ops); the
class-id range checks run eagerly in `run_model` before the graph and are skipped inside it. On the CPU the graph
is compiled with inductor's freezing: the weights become constants of the graph and the convolutions' weights are
pre-packed once for oneDNN instead of being reordered on every call. The inspector and multi-exemplar translation
run the eager network (other outputs; a second compile would cost more than it saves).

Shapes are static: each input size (batch, height, width) compiles its own graph on its first call, at most
`SHAPE_LIMIT` of them per Translator; further sizes run eagerly (a warning says so). Compiling takes minutes on a
small CPU; inductor keeps its kernels in an on-disk cache (TORCHINDUCTOR_CACHE_DIR, here by default
~/.cache/cocosnet/inductor), so a later process skips the C++ compiler. docs/model.md, "Compiled", has the numbers.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import torch
from torch import nn

log = logging.getLogger(__name__)

SHAPE_LIMIT = 8  # input sizes compiled per Translator; torch._dynamo's own recompile limit is raised to hold them
CACHE_ENV = "TORCHINDUCTOR_CACHE_DIR"
# inductor's config is process-wide: one compile at a time holds the freezing switch (serve runs threads)
_COMPILE_LOCK = threading.Lock()


class CompileUnavailable(RuntimeError):
    """torch.compile cannot run here (no C++ compiler, no Triton, an unsupported Python); the message says which."""


def default_cache_dir() -> Path:
    """~/.cache/cocosnet/inductor (XDG_CACHE_HOME respected): kept across reboots, unlike inductor's /tmp default."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cocosnet" / "inductor"


def use_cache_dir() -> str:
    """The inductor cache folder of this process: TORCHINDUCTOR_CACHE_DIR when the user set it, else
    `default_cache_dir()`, written to the environment (process-wide; inductor reads it there)."""
    if not os.environ.get(CACHE_ENV):
        os.environ[CACHE_ENV] = str(default_cache_dir())
    return os.environ[CACHE_ENV]


def check_compile_support(device: torch.device) -> None:
    """CompileUnavailable naming what is missing, before anything is traced (a traceback deep in inductor
    otherwise, at the first translation)."""
    from torch._dynamo.eval_frame import check_if_dynamo_supported

    try:
        check_if_dynamo_supported()
    except RuntimeError as exc:
        raise CompileUnavailable(f"--compile: {exc}; run without --compile") from None
    if device.type == "cpu":
        from torch._inductor import config, cpp_builder

        try:
            cpp_builder.get_cpp_compiler()
        except Exception:  # inductor's InvalidCxxCompiler, or the compiler failing to run
            names = ", ".join(c for c in config.cpp.cxx if c) or "g++"
            raise CompileUnavailable(
                f"--compile on the CPU needs a C++ compiler for inductor's kernels, and none runs here (looked for "
                f"{names}; set CXX to one): install g++ or clang++, or run without --compile") from None
    elif device.type == "cuda":
        from torch.utils._triton import has_triton

        if not has_triton():
            raise CompileUnavailable("--compile on CUDA needs Triton (pip install triton), or run without --compile")


def _key(args: tuple, kwargs: dict) -> tuple:
    def one(x: Any) -> Any:
        return (tuple(x.shape), x.dtype, x.device, x.is_contiguous()) if isinstance(x, torch.Tensor) else x

    return tuple(one(a) for a in args) + tuple((k, one(v)) for k, v in sorted(kwargs.items()))


class CompiledNetwork:
    """`model` compiled, called as the model is; it holds the eager `model` for what it does not compile.

    Attribute reads (cfg, encode, ...) go to the model, so `run_model` takes it in the model's place."""

    def __init__(self, model: nn.Module, device: torch.device):
        check_compile_support(device)
        self.cache_dir = use_cache_dir()
        self.freeze = device.type == "cpu"  # weights as constants, convolution weights pre-packed for oneDNN
        self.model = model
        self._compiled = torch.compile(model, backend="inductor", dynamic=False)
        self.shapes: set[tuple] = set()  # the input sizes compiled so far
        self._warned = False
        # torch._dynamo counts compiles per code object, shared by every Translator of the process
        torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 4 * SHAPE_LIMIT)

    def __getattr__(self, name: str) -> Any:  # only for names not set in __init__
        return getattr(self.model, name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        key = _key(args, kwargs)
        if key in self.shapes:
            return self._compiled(*args, **kwargs)
        with _COMPILE_LOCK:
            if len(self.shapes) >= SHAPE_LIMIT:
                if not self._warned:
                    log.warning("--compile: %d input sizes compiled already; further sizes run uncompiled",
                                SHAPE_LIMIT)
                    self._warned = True
                return self.model(*args, **kwargs)
            from torch._inductor import config

            try:
                with config.patch(freezing=self.freeze):
                    out = self._compiled(*args, **kwargs)
            except torch._dynamo.exc.BackendCompilerFailed as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise CompileUnavailable(f"--compile: inductor failed to compile the network ({first}); run "
                                         "without --compile") from exc
            self.shapes.add(key)
            return out


__all__ = ["SHAPE_LIMIT", "CompileUnavailable", "CompiledNetwork", "check_compile_support", "default_cache_dir",
           "use_cache_dir"]
