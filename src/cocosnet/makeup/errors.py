"""The one error type of makeup transfer: the message names the file and what is wrong with it."""

from __future__ import annotations


class MakeupError(ValueError):
    """A reference, layer or target that makeup transfer cannot use (no face, wrong size, out of range...)."""
