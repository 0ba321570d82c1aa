"""cocosnet: exemplar-based image translation (CoCosNet, Zhang et al., CVPR 2020).

The public names are imported on first use (PEP 562), so `python -m cocosnet` can check its inputs and answer
`--help` before torch loads.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cocosnet.inference import Translation, Translator
    from cocosnet.model import CoCosNet
    from cocosnet.presets import (
        LossConfig,
        ModelConfig,
        PairSampling,
        Preset,
        get_model_config,
        get_preset,
        preset_names,
    )
    from cocosnet.runtime import RuntimeOptions

__version__ = "0.1.0"

# public name -> the module that defines it
_HOMES = {
    "Translation": "cocosnet.inference",
    "Translator": "cocosnet.inference",
    "CoCosNet": "cocosnet.model",
    "LossConfig": "cocosnet.presets",
    "ModelConfig": "cocosnet.presets",
    "PairSampling": "cocosnet.presets",
    "Preset": "cocosnet.presets",
    "get_model_config": "cocosnet.presets",
    "get_preset": "cocosnet.presets",
    "preset_names": "cocosnet.presets",
    "RuntimeOptions": "cocosnet.runtime",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'cocosnet' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))


__all__ = [
    "CoCosNet",
    "LossConfig",
    "ModelConfig",
    "PairSampling",
    "Preset",
    "RuntimeOptions",
    "Translation",
    "Translator",
    "__version__",
    "get_model_config",
    "get_preset",
    "preset_names",
]
