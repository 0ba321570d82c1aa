import os
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("COCOSNET_SHARED", ROOT.parent / "shared"))
OFFICIAL = SHARED / "reference" / "official_cocosnet"

torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(scope="session")
def official_dir() -> Path:
    if not (OFFICIAL / "vectors").is_dir():
        pytest.skip(f"official reference material not found at {OFFICIAL} (set COCOSNET_SHARED)")
    return OFFICIAL


@pytest.fixture(scope="session")
def recipe(official_dir):
    """The vectors' weight recipe (`make_state_dict(manifest, seed)`), imported from the reference folder."""
    sys.path.insert(0, str(official_dir / "vectors"))
    try:
        from recipe_weights import make_state_dict
    finally:
        sys.path.pop(0)
    return make_state_dict
