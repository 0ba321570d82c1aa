"""The model `cocosnet translate` and `cocosnet serve` use when no checkpoint is given."""

from __future__ import annotations

from pathlib import Path

from cocosnet.weights import WEIGHTS_FILE

DEFAULT_DIR = Path(__file__).parents[1] / "bundled" / "landscapes"


def default_checkpoint() -> Path:
    if not (DEFAULT_DIR / WEIGHTS_FILE).is_file():
        raise FileNotFoundError(
            f"the bundled landscapes model is missing ({DEFAULT_DIR / WEIGHTS_FILE}): reinstall cocosnet, or "
            "give --checkpoint DIR (a native folder) or --official DIR --preset NAME (the authors' checkpoints)"
        )
    return DEFAULT_DIR
