"""Inference: the Translator, the input preparation it shares with the CLI and the app, and the bundled model.

No training code is imported here.
"""

from cocosnet.inference.default_model import DEFAULT_DIR, default_checkpoint
from cocosnet.inference.translator import Translation, Translator, resolve_device, run_model

__all__ = ["DEFAULT_DIR", "Translation", "Translator", "default_checkpoint", "resolve_device", "run_model"]
