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
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from official_code import import_official, official_networks, official_options, recipe_state_dicts  # noqa: E402

HEIGHT, WIDTH = 128, 192
OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "official_nonsquare"


def widen(x: torch.Tensor) -> torch.Tensor:
    """[1,C,128,128] -> [1,C,128,192]: the first 64 columns repeated on the right (the test does the same)."""
    return torch.cat([x, x[..., : WIDTH - x.shape[-1]]], -1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--official-code", required=True, type=Path)
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parent.parent.parent / "shared")
    args = ap.parse_args()
    ref = args.shared.resolve() / "reference" / "official_cocosnet"
    import_official(args.official_code)
    opt = official_options(ref, "celebahq_edge", WIDTH, aspect_ratio=WIDTH / HEIGHT)
    net_g, net_corr = official_networks(opt, recipe_state_dicts(ref, "celebahq_edge"))
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
