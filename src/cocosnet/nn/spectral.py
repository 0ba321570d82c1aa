"""Spectral normalisation with the official (legacy) parameter names.

The released checkpoints store `<m>.weight_orig`, `<m>.weight_u`, `<m>.weight_v`; the legacy
`torch.nn.utils.spectral_norm` keeps exactly these names, and in eval mode divides by sigma = u·(W v) computed
from the stored vectors without a power iteration — the behaviour the official code has at test time.
"""

from __future__ import annotations

import warnings

from torch import nn


def spectral_norm(module: nn.Module) -> nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return nn.utils.spectral_norm(module)


def sn_conv(cin: int, cout: int, kernel: int, stride: int = 1, padding: int = 0, bias: bool = True) -> nn.Module:
    return spectral_norm(nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=bias))
