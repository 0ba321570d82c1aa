"""Spectral normalisation with the official (legacy) parameter names.

The released checkpoints store `<m>.weight_orig`, `<m>.weight_u`, `<m>.weight_v`; the legacy
`torch.nn.utils.spectral_norm` keeps exactly these names, and in eval mode divides by sigma = u·(W v) computed
from the stored vectors without a power iteration — the behaviour the official code has at test time.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn


def spectral_norm(module: nn.Module) -> nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return nn.utils.spectral_norm(module)


def sn_conv(cin: int, cout: int, kernel: int, stride: int = 1, padding: int = 0, bias: bool = True) -> nn.Module:
    return spectral_norm(nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=bias))


def fold_spectral_norm_(model: nn.Module) -> dict[str, tuple]:
    """Inference: divide each spectral-normed weight by its eval-mode sigma once, in place, and drop the hook.

    The legacy hook recomputes `weight_orig / sigma` on every forward and keeps the result as a second copy of the
    weights (most of an official generator's 370 MB). Dividing in place gives the same numbers with one copy (on a
    memory-mapped checkpoint the pages become private). Returns {module name: (u, v, sigma)} so the official layout
    can be written back (`unfold_state_dict`).
    """
    from torch.nn.utils.spectral_norm import SpectralNorm

    folded = {}
    for name, module in model.named_modules():
        for key, hook in list(module._forward_pre_hooks.items()):
            if not isinstance(hook, SpectralNorm) or hook.name != "weight":
                continue
            with torch.no_grad():
                weight = module.weight_orig
                u, v = module.weight_u.clone(), module.weight_v.clone()
                sigma = torch.dot(u, torch.mv(hook.reshape_weight_to_matrix(weight), v))
                weight.div_(sigma)  # the hook computes weight_orig / sigma: same value, no second copy
            del module._forward_pre_hooks[key]
            for attr in ("weight", "weight_orig", "weight_u", "weight_v"):
                delattr(module, attr)
            module.register_parameter("weight", nn.Parameter(weight, requires_grad=False))
            folded[name] = (u, v, sigma)
    return folded


def unfold_state_dict(state: dict[str, torch.Tensor], folded: dict[str, tuple]) -> dict[str, torch.Tensor]:
    """The official key layout (`weight_orig`, `weight_u`, `weight_v`) for a model folded by `fold_spectral_norm_`;
    weight_orig = weight · sigma (within one rounding of the stored one)."""
    state = dict(state)
    for name, (u, v, sigma) in folded.items():
        prefix = f"{name}." if name else ""
        weight = state.pop(prefix + "weight")
        state[prefix + "weight_orig"] = weight * sigma
        state[prefix + "weight_u"], state[prefix + "weight_v"] = u, v
    return state
