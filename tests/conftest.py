import importlib
import os
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("COCOSNET_SHARED", ROOT.parent / "shared"))
OFFICIAL = SHARED / "reference" / "official_cocosnet"

torch.set_num_threads(min(2, os.cpu_count() or 1))


def missing(what: str) -> None:
    """A fixture the set-up provides is absent: a failure under CI (`scripts/setup.sh` installs it, and a silent
    skip there would count as coverage), a skip that says how to get it on a plain checkout."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{what} (CI=true: scripts/setup.sh and the shared/ folder beside the clone provide it)")
    pytest.skip(what)


def require_module(name: str):
    """`pytest.importorskip` under the same rule as `missing`."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        missing(f"{name} is not importable ({exc}); run scripts/setup.sh")


@pytest.fixture(scope="session")
def official_dir() -> Path:
    if not (OFFICIAL / "vectors").is_dir():
        missing(f"the official reference material is not at {OFFICIAL}: put the project's shared/ folder beside "
                "the checkout or set COCOSNET_SHARED to it")
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


# ----------------------------------------------------------------------------------------------- web app
@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A tiny random model (64x64, the landscape classes) saved as a native folder."""
    from cocosnet.model import CoCosNet
    from cocosnet.presets import get_model_config
    from cocosnet.weights import native_config, save_native

    torch.manual_seed(0)
    cfg = get_model_config("tiny")
    folder = tmp_path_factory.mktemp("tiny_checkpoint")
    save_native(folder, CoCosNet(cfg).eval().state_dict(), native_config(cfg))
    return folder


@pytest.fixture(scope="session")
def gallery_dir(tmp_path_factory) -> Path:
    """A few (photo, label) pairs in the flat layout: NAME.png + NAME_label.png."""
    import numpy as np
    from PIL import Image

    from cocosnet.data.landscapes import make_scene

    folder = tmp_path_factory.mktemp("gallery")
    for i, kind in enumerate(("lake", "coast", "valley", "road", "coast")):
        ids, photo = make_scene(100 + i, 80, None if kind == "road" else kind)
        Image.fromarray(photo).save(folder / f"{kind}{i}.png")
        Image.fromarray(ids.astype(np.uint8)).save(folder / f"{kind}{i}_label.png")
    return folder


# ----------------------------------------------------------------------------------------------- export
@pytest.fixture(scope="session")
def tiny_onnx(tiny_checkpoint, tmp_path_factory) -> Path:
    """`tiny_checkpoint` exported by `cocosnet export --format onnx --dynamic-batch` (golden-checked)."""
    require_module("onnxruntime"), require_module("onnxscript")
    from cocosnet.cli import main

    out = tmp_path_factory.mktemp("export") / "tiny.onnx"
    assert main(["export", "--checkpoint", str(tiny_checkpoint), "--format", "onnx", "--dynamic-batch",
                 "--out", str(out)]) == 0
    return out
