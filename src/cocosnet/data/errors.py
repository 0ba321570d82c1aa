"""The one error type of the data layer, and the skip-with-a-warning bookkeeping of `skip_bad=True`."""

from __future__ import annotations

import warnings
from pathlib import Path


class DataError(ValueError):
    """A file of a data set cannot give a correct sample; the message names the file and what is wrong."""

    def __init__(self, message: str, path: str | Path | None = None):
        self.path = None if path is None else str(path)
        super().__init__(message if path is None or str(path) in message else f"{path}: {message}")


class BadSampleLog:
    """Counts the samples skipped under `skip_bad=True`, warning once per bad file."""

    def __init__(self) -> None:
        self.skipped: dict[str, str] = {}

    def record(self, exc: DataError) -> None:
        key = exc.path or str(exc)
        if key not in self.skipped:
            self.skipped[key] = str(exc)
            warnings.warn(f"skipping bad sample ({len(self.skipped)} so far): {exc}", stacklevel=3)

    @property
    def count(self) -> int:
        return len(self.skipped)
