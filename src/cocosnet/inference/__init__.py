"""Inference: the Translator, the input preparation it shares with the CLI and the app, and the bundled model.

No training code is imported here.
"""

from cocosnet.inference.default_model import DEFAULT_DIR, default_checkpoint
from cocosnet.inference.multi_exemplar import MultiTranslation
from cocosnet.inference.translator import Translation, Translator, run_model
from cocosnet.runtime import RuntimeOptions, resolve_device

__all__ = ["DEFAULT_DIR", "MultiTranslation", "RuntimeOptions", "Translation", "Translator", "default_checkpoint",
           "resolve_device", "run_model"]
