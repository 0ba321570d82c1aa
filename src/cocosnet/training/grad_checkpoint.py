"""Gradient checkpointing of the residual blocks, exact in the presence of spectral norm.

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

from cocosnet.nn import ResidualBlock, SPADEResnetBlock


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
    def run(*args: Any) -> Any:
        if not (torch.is_grad_enabled() and block.training):
            return forward(*args)
        stash: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        return checkpoint(forward, *args, use_reentrant=False,
                          context_fn=lambda: (_Record(sn, stash), _Replay(sn, stash)))

    return run


def enable_gradient_checkpointing(model: nn.Module, types: tuple[type, ...] = (SPADEResnetBlock, ResidualBlock)) -> int:
    """Recompute every block of `types` in backward instead of storing its activations; returns how many.

    Patches the instances' `forward` (parameter names and state dicts are unchanged). Build copies of the model
    (EMA) from a fresh instance + `load_state_dict`, not `copy.deepcopy`, after calling this.
    """
    n = 0
    for m in model.modules():
        if isinstance(m, types) and not getattr(m, "_grad_checkpointed", False):
            m.forward = _checkpointed(m, m.forward, _sn_modules(m))
            m._grad_checkpointed = True
            n += 1
    return n
