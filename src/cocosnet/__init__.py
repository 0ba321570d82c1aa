"""cocosnet: exemplar-based image translation (CoCosNet, Zhang et al., CVPR 2020)."""

from cocosnet.inference import Translation, Translator
from cocosnet.model import CoCosNet
from cocosnet.presets import LossConfig, ModelConfig, PairSampling, Preset, get_model_config, get_preset, preset_names
from cocosnet.runtime import RuntimeOptions

__version__ = "0.1.0"

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
