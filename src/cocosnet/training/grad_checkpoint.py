"""Gradient checkpointing (recompute in backward instead of storing activations), exact with spectral norm.

What is recomputed (`enable_gradient_checkpointing`): every SPADE residual block (generator and domain adaptors)
and shared residual block, the self-attention layers, each whole domain adaptor (its blocks nested inside), the
correlation + warp, and each SPADE layer of the generator's two full-resolution blocks (nested inside the block).
What stays stored: the inputs of those pieces, the generator's upsamplings, the VGG and discriminator activations
of the loss terms. docs/training.md measures what it saves at the official widths.

The recomputation in backward would run the spectral-norm power iteration a second time and normalise the weights
with different u, v than the forward did. So each checkpointed call records the u, v its forward used, and the
recomputation runs those modules without power iteration on exactly those vectors (swapped in as new buffer objects,
never written in place, so autograd's saved tensors stay valid). Gradients equal the un-checkpointed ones.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from cocosnet.correspondence import Correspondence, DomainAdaptor
from cocosnet.generator import Generator
from cocosnet.memory import trim_heap
from cocosnet.nn import SPADE, ResidualBlock, SelfAttention, SPADEResnetBlock

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


def _checkpointed(block: nn.Module, forward: Any, sn: list[nn.Module]) -> Any:
    def run(*args: Any, **kwargs: Any) -> Any:
        if not (torch.is_grad_enabled() and block.training):
            return forward(*args, **kwargs)
        stash: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        return checkpoint(forward, *args, use_reentrant=False,
                          context_fn=lambda: (_Record(sn, stash), _Replay(sn, stash)), **kwargs)

    return run


# Modules whose `forward` is recomputed. Nesting is fine (a domain adaptor's SPADE blocks are checkpointed inside
# the checkpointed adaptor: its backward recomputes the adaptor storing only the blocks' inputs, then each block).
CHECKPOINTED_TYPES: tuple[type, ...] = (SPADEResnetBlock, ResidualBlock, SelfAttention, DomainAdaptor)
# The generator's blocks at image/2 and image resolution: recomputing one of them whole would hold all three SPADE
# layers' full-resolution activations at once; their SPADE layers are checkpointed inside the block as well.
HIGH_RES_GENERATOR_BLOCKS: tuple[str, ...] = ("up_2", "up_3")


def enable_gradient_checkpointing(model: nn.Module, types: tuple[type, ...] = CHECKPOINTED_TYPES,
                                  correlation: bool = True) -> int:
    """Recompute every module of `types` in backward instead of storing its activations; returns how many.

    correlation: also recompute the correspondence's matching and warp (`Correspondence._correlate_and_warp`: the
    unfolded match vectors and the softmax blocks).

    Patches the instances' `forward` (parameter names and state dicts are unchanged). Build copies of the model
    (EMA) from a fresh instance + `load_state_dict`, not `copy.deepcopy`, after calling this.
    """
    n = 0
    for m in model.modules():
        if isinstance(m, types) and not getattr(m, "_grad_checkpointed", False):
            m.forward = _checkpointed(m, m.forward, _sn_modules(m))
            m._grad_checkpointed = True
            n += 1
        if isinstance(m, Generator):  # the full-resolution blocks: also each SPADE layer inside (nested)
            for name in HIGH_RES_GENERATOR_BLOCKS:
                for spade in getattr(m, name).modules():
                    if isinstance(spade, SPADE) and not getattr(spade, "_grad_checkpointed", False):
                        spade.forward = _checkpointed(spade, spade.forward, [])
                        spade._grad_checkpointed = True
                        n += 1
        if correlation and isinstance(m, Correspondence) and not getattr(m, "_corr_checkpointed", False):
            m._correlate_and_warp = _checkpointed(m, m._correlate_and_warp, [])
            m._corr_checkpointed = True
            n += 1
    return n
