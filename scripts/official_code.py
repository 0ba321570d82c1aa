"""Run the authors' CoCosNet code (microsoft/CoCosNet, de0c1bbd) from a checkout the user gives: never copied here.

Shared by scripts/official_vectors_nonsquare.py and benchmarks/official_side_by_side.py. torchvision is only needed
by the official VGG and contextual-loss modules (training) and sync_batchnorm is a git submodule unused with --PONO
(every released test command): stand-in modules let the inference networks import without them. The official
util/ reads its palette file by a relative path on import, so the process moves into the checkout
(`import_official`); give every other path absolute.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import types
from pathlib import Path

import torch

# our preset name -> the shared reference folder's manifest / options name
MANIFEST = {"ade20k": "ade20k", "celebahq_edge": "celebahqedge", "deepfashion": "deepfashion"}


def stub_torchvision() -> None:
    tv = types.ModuleType("torchvision")
    tv.models = types.ModuleType("torchvision.models")
    tv.transforms = types.ModuleType("torchvision.transforms")
    for name in ("Compose", "Lambda", "Normalize", "ToPILImage", "ToTensor", "Resize"):
        setattr(tv.transforms, name, lambda *a, **k: None)
    sys.modules.update({"torchvision": tv, "torchvision.models": tv.models, "torchvision.transforms": tv.transforms})


def stub_sync_batchnorm() -> None:
    """The official code's sync_batchnorm is a git submodule; with --PONO (these options) SPADE never uses it."""
    sbn = types.ModuleType("models.networks.sync_batchnorm")
    sbn.SynchronizedBatchNorm2d, sbn.SynchronizedBatchNorm1d = torch.nn.BatchNorm2d, torch.nn.BatchNorm1d
    sbn.DataParallelWithCallback = torch.nn.DataParallel
    sys.modules["models.networks.sync_batchnorm"] = sbn


def import_official(code: str | Path) -> types.ModuleType:
    """chdir into the checkout, put it on sys.path, and import its `models` package (networks and Pix2PixModel)."""
    code = Path(code).resolve()
    if not (code / "models" / "pix2pix_model.py").is_file():
        raise FileNotFoundError(f"--official-code {code}: not a CoCosNet checkout (no models/pix2pix_model.py)")
    os.chdir(code)
    stub_torchvision()
    sys.path.insert(0, str(code))
    import models  # the package, before its sync_batchnorm stand-in

    stub_sync_batchnorm()
    import models.networks  # noqa: F401
    import models.pix2pix_model  # noqa: F401

    # the stand-in torchvision has done its work (imports only); left in sys.modules, a spec-less module makes
    # importlib.util.find_spec("torchvision") raise, which torch.onnx.export logs as errors for each torchvision op
    for name in ("torchvision", "torchvision.models", "torchvision.transforms"):
        sys.modules.pop(name, None)
    return models


def official_options(reference: Path, preset: str, size: int | None = None, **overrides) -> argparse.Namespace:
    """The README test options of `preset` (options_<manifest>.json "test"), on the CPU, at `size`² if given."""
    opt = argparse.Namespace(**json.loads((reference / f"options_{MANIFEST[preset]}.json").read_text())["test"])
    if size is not None:
        opt.crop_size = opt.load_size = size
    opt.gpu_ids = []
    for k, v in overrides.items():
        setattr(opt, k, v)
    return opt


def recipe_state_dicts(reference: Path, preset: str, seed: int = 11) -> dict[str, dict]:
    """{"G": ..., "Corr": ...}: the reference-vector weights (the shared recipe_weights.py, official keys)."""
    sys.path.insert(0, str(reference / "vectors"))
    from recipe_weights import make_state_dict

    return {name: make_state_dict(json.loads((reference / f"{MANIFEST[preset]}_{net}.json").read_text()), seed)
            for net, name in (("netG", "G"), ("netCorr", "Corr"))}


def official_networks(opt: argparse.Namespace, state_dicts: dict[str, dict]) -> tuple[torch.nn.Module, ...]:
    """(netG, netCorr) built by the official define_G / define_Corr, loaded strictly, in eval mode."""
    import models.networks as networks

    with contextlib.redirect_stdout(io.StringIO()):  # print_network's parameter counts
        net_g, net_corr = networks.define_G(opt), networks.define_Corr(opt)
    for net, name in ((net_g, "G"), (net_corr, "Corr")):
        net.load_state_dict(state_dicts[name])
        net.eval()
    return net_g, net_corr


def official_model(opt: argparse.Namespace, folder: Path) -> torch.nn.Module:
    """The official Pix2PixModel in test mode, loading `folder`/latest_net_{G,Corr}.pth through its own
    util.load_network (as test.py does). That function only prints when a file is missing or a key does not
    fit (and then loads non-strictly): anything it prints is raised here instead."""
    from models.pix2pix_model import Pix2PixModel

    folder = Path(folder).resolve()
    opt.checkpoints_dir, opt.name, opt.which_epoch, opt.isTrain = str(folder.parent), folder.name, "latest", False
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        model = Pix2PixModel(opt)
    complaints = [line for line in printed.getvalue().splitlines()
                  if "not find model" in line or "not load" in line or "strict=False" in line or "Error" in line]
    if complaints:
        raise RuntimeError("the official code did not load the weights: " + "; ".join(complaints))
    return model.eval()
