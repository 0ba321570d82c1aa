"""Gradient checkpointing (recompute in backward instead of storing activations), exact with spectral norm.

What is recomputed is what the model offers (`checkpointable_modules()` and `checkpointable_methods` of its parts):
every SPADE residual block (generator and domain adaptors) and shared residual block, the generator's self-attention,
each whole domain adaptor (its blocks nested inside), the correlation + warp, and each SPADE layer of the generator's
two full-resolution blocks (nested inside the block). What stays stored: the inputs of those pieces, the generator's
upsamplings, the VGG and discriminator activations of the loss terms. docs/training.md measures what it saves at
the official widths.

The recomputation in backward would run the spectral-norm power iteration a second time and normalise the weights
with different u, v than the forward did. So each checkpointed call records the u, v its forward used, and the
recomputation runs those modules without power iteration on exactly those vectors (swapped in as new buffer objects,
never written in place, so autograd's saved tensors stay valid). Gradients equal the un-checkpointed ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from cocosnet.memory import trim_heap
from cocosnet.nn import recording_graph

_TRIM_BEFORE_RECOMPUTE = False  # set by set_trim_before_recompute (the CPU trainer with trim_host_memory)


def set_trim_before_recompute(on: bool) -> None:
    """malloc_trim before every recomputation in backward (CPU: keeps freed heap pages out of the peak RSS)."""
    global _TRIM_BEFORE_RECOMPUTE
    _TRIM_BEFORE_RECOMPUTE = on


def _sn_modules(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if "weight_u" in m._buffers and hasattr(m, "weight_orig")]


class _Record:
    def __init__(self, mods: list[nn.Module], stash: dict[int, tuple[torch.Tensor, torch.Tensor]]):
        self.mods, self.stash = mods, stash

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        for m in self.mods:
            self.stash[id(m)] = (m._buffers["weight_u"].detach().clone(), m._buffers["weight_v"].detach().clone())


class _Replay:
    def __init__(self, mods: list[nn.Module], stash: dict[int, tuple[torch.Tensor, torch.Tensor]]):
        self.mods, self.stash = mods, stash
        self.saved: list[tuple[nn.Module, bool, torch.Tensor, torch.Tensor]] = []

    def __enter__(self) -> None:
        if _TRIM_BEFORE_RECOMPUTE:
            trim_heap()  # hand back what the backward freed so far before the recomputed activations arrive
        self.saved = []
        for m in self.mods:
            self.saved.append((m, m.training, m._buffers["weight_u"], m._buffers["weight_v"]))
            u, v = self.stash[id(m)]
            m._buffers["weight_u"], m._buffers["weight_v"] = u, v
            m.training = False  # no power iteration: sigma from the recorded u, v

    def __exit__(self, *exc: Any) -> None:
        for m, training, u, v in self.saved:
            m._buffers["weight_u"], m._buffers["weight_v"] = u, v
            m.training = training
        self.saved = []


def _checkpointed(block: nn.Module, forward: Callable, sn: list[nn.Module]) -> Callable:
    def run(*args: Any, **kwargs: Any) -> Any:
        if not (recording_graph() and block.training):
            return forward(*args, **kwargs)
        stash: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        return checkpoint(forward, *args, use_reentrant=False,
                          context_fn=lambda: (_Record(sn, stash), _Replay(sn, stash)), **kwargs)

    run.recomputed_in_backward = True
    return run


def is_checkpointed(fn: Callable) -> bool:
    """Whether `fn` (a module's `forward`, a checkpointable method) is recomputed in backward."""
    return getattr(fn, "recomputed_in_backward", False)


def enable_gradient_checkpointing(model: nn.Module, correlation: bool = True) -> int:
    """Recompute in backward, instead of storing their activations, the pieces `model`'s parts offer; returns how
    many pieces were wrapped (0 when called again).

    Every submodule with `checkpointable_modules()` offers those modules (their `forward` is recomputed; nesting is
    fine: a domain adaptor's SPADE blocks are recomputed inside the recomputed adaptor, storing only the blocks'
    inputs); one with `checkpointable_methods` offers those methods (parameter-free tensor steps such as the
    correspondence's matching and warp; correlation=False leaves them stored).

    Replaces the instances' `forward` / methods (parameter names and state dicts are unchanged). Build copies of the
    model (EMA) from a fresh instance + `load_state_dict`, not `copy.deepcopy`, after calling this.
    """
    n = 0
    for part in list(model.modules()):
        offered = part.checkpointable_modules() if hasattr(part, "checkpointable_modules") else []
        for piece in offered:
            if not is_checkpointed(piece.forward):
                piece.forward = _checkpointed(piece, piece.forward, _sn_modules(piece))
                n += 1
        for name in getattr(part, "checkpointable_methods", ()) if correlation else ():
            if not is_checkpointed(getattr(part, name)):
                setattr(part, name, _checkpointed(part, getattr(part, name), []))
                n += 1
    return n
