"""Spectral normalisation with the official (legacy) parameter names.

The released checkpoints store `<m>.weight_orig`, `<m>.weight_u`, `<m>.weight_v`; the legacy
`torch.nn.utils.spectral_norm` keeps exactly these names, and in eval mode divides by sigma = u·(W v) computed
from the stored vectors without a power iteration — the behaviour the official code has at test time.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from torch import nn


def spectral_norm(module: nn.Module) -> nn.Module:
    """`torch.nn.utils.spectral_norm(module)` (the legacy hook and names). On the meta device (a model built to
    receive checkpoint weights) the same hook and buffers are registered without the random u, v initialisation:
    those values are overwritten by the load anyway, and running normal_/normalize on meta tensors imports torch's
    Python meta kernels and decompositions (~800 modules, ~75 MB resident for the rest of the process)."""
    weight = getattr(module, "weight", None)
    if not isinstance(weight, nn.Parameter) or weight.device.type != "meta":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return nn.utils.spectral_norm(module)
    from torch.nn.utils.spectral_norm import (
        SpectralNorm,
        SpectralNormLoadStateDictPreHook,
        SpectralNormStateDictHook,
    )

    dim = 1 if isinstance(module, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)) else 0
    fn = SpectralNorm("weight", 1, dim, 1e-12)  # torch's defaults, as nn.utils.spectral_norm(module) uses
    h = weight.shape[dim]
    del module.weight  # what SpectralNorm.apply does, with empty (meta) u and v
    module.register_parameter("weight_orig", weight)
    module.weight = weight.data
    module.register_buffer("weight_u", weight.new_empty(h))
    module.register_buffer("weight_v", weight.new_empty(weight.numel() // h))
    module.register_forward_pre_hook(fn)
    module._register_state_dict_hook(SpectralNormStateDictHook(fn))
    module._register_load_state_dict_pre_hook(SpectralNormLoadStateDictPreHook(fn))
    return module


def current_weight(module: nn.Module) -> torch.Tensor:
    """The weight `module`'s forward would use, for code that reads it without calling the module (table lookups):
    a spectral-normed module's hook is run as a forward runs it (weight_orig / sigma, with its power iteration in
    training mode); a folded or plain module's weight as it is."""
    from torch.nn.utils.spectral_norm import SpectralNorm

    for hook in module._forward_pre_hooks.values():
        if isinstance(hook, SpectralNorm):
            hook(module, ())
    return module.weight


def sn_conv(cin: int, cout: int, kernel: int, stride: int = 1, padding: int = 0, bias: bool = True) -> nn.Module:
    return spectral_norm(nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=bias))


def fold_spectral_norm_(model: nn.Module, convert: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
                        ) -> dict[str, tuple]:
    """Inference: divide each spectral-normed weight by its eval-mode sigma once, in place, and drop the hook.

    The legacy hook recomputes `weight_orig / sigma` on every forward and keeps the result as a second copy of the
    weights (most of an official generator's 370 MB). Dividing in place gives the same numbers with one copy (on a
    memory-mapped checkpoint the pages become private). `convert(weight_orig, weight_orig / sigma)` instead keeps
    what it returns (the inference layout's bf16 / channels-last copy, `WeightConversion.replace`): the quotient is
    made out of place, so the checkpoint's pages stay clean and can be handed back. Returns {module name:
    (u, v, sigma)} so the official layout can be written back (`unfold_state_dict`).
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
                if convert is None:
                    weight.div_(sigma)  # the hook computes weight_orig / sigma: same value, no second copy
                else:
                    weight = convert(weight, weight / sigma)
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
