"""Make tests/fixtures/official_nonsquare/: the official implementation's CelebA-HQ edge outputs at 128x192.

    python scripts/official_vectors_nonsquare.py --official-code PATH/TO/CoCosNet [--shared ../shared]

PATH is a checkout of the authors' code (microsoft/CoCosNet, de0c1bbd); it is run here, never copied into this
project. The networks get the reference-vector weights (the shared folder's recipe_weights.py, seed 11, from the
celebahqedge manifests); the inputs are the shared 128² celebahqedge inputs widened to 192 columns by repeating
their first 64 (so the fixture stores only outputs). The official generator takes a non-square size through its
`aspect_ratio` option (width / height; its first latent is crop_size/32 wide and that / aspect_ratio high), so it
runs with crop_size = load_size = 192 and aspect_ratio = 1.5. torchvision is only needed by the official VGG and
contextual-loss modules (training) and sync_batchnorm is a git submodule unused with --PONO: stand-in modules let
the inference networks import without them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import types
from pathlib import Path

import torch

HEIGHT, WIDTH = 128, 192
OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "official_nonsquare"


def widen(x: torch.Tensor) -> torch.Tensor:
    """[1,C,128,128] -> [1,C,128,192]: the first 64 columns repeated on the right (the test does the same)."""
    return torch.cat([x, x[..., : WIDTH - x.shape[-1]]], -1)


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--official-code", required=True, type=Path)
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parent.parent.parent / "shared")
    args = ap.parse_args()
    ref = args.shared.resolve() / "reference" / "official_cocosnet"
    os.chdir(args.official_code)  # its util/ reads a palette file by a relative path on import
    sys.path.insert(0, str(ref / "vectors"))
    from recipe_weights import make_state_dict

    stub_torchvision()
    sys.path.insert(0, str(args.official_code.resolve()))
    import models  # noqa: F401  (the package, before its sync_batchnorm stand-in)

    stub_sync_batchnorm()
    import models.networks as networks

    opt = argparse.Namespace(**json.loads((ref / "options_celebahqedge.json").read_text())["test"])
    opt.crop_size = opt.load_size = WIDTH
    opt.aspect_ratio = WIDTH / HEIGHT
    opt.gpu_ids = []
    net_g, net_corr = networks.define_G(opt), networks.define_Corr(opt)
    for net, name in ((net_g, "netG"), (net_corr, "netCorr")):
        net.load_state_dict(make_state_dict(json.loads((ref / f"celebahqedge_{name}.json").read_text()), 11))
        net.eval()
    inputs = torch.load(ref / "vectors" / "celebahqedge" / "inputs.pt", weights_only=True)
    label, label_ref, exemplar = (widen(inputs[k]) for k in ("label", "label_ref", "ref"))
    with torch.no_grad():
        corr = net_corr(exemplar, None, label, label_ref, alpha=1)
        fake = net_g(label, warp_out=torch.cat((corr["warp_out"], label), dim=1))
    OUT.mkdir(parents=True, exist_ok=True)
    expected = {"fake_image": fake.contiguous(), "warp_out": corr["warp_out"].contiguous()}
    torch.save(expected, OUT / "expected.pt")
    print(f"wrote {OUT / 'expected.pt'}: " + ", ".join(f"{k} {tuple(v.shape)}" for k, v in expected.items()))


if __name__ == "__main__":
    main()
