"""cocosnet: exemplar-based image translation (CoCosNet, Zhang et al., CVPR 2020)."""

from cocosnet.presets import LossConfig, ModelConfig, Preset, get_preset, preset_names

__version__ = "0.1.0"

__all__ = ["LossConfig", "ModelConfig", "Preset", "get_preset", "preset_names", "__version__"]
