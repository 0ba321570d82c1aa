"""Makeup transfer latency at 256x256 on the astronaut: the offline mesh warp and the CoCosNet correspondence
(celebahq_edge's netCorr with the reference recipe's official-layout weights: the speed of the real checkpoint).
Cases interleaved, medians; a shared machine disturbs the absolute numbers, not much the ratio.

    python benchmarks/makeup_latency.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import torch
from skimage import data

from cocosnet.makeup import CorrespondenceWarp, FaceFinder, MakeupTransfer

sys.path.insert(0, str(Path(__file__).parent))
from _util import ROOT, machine, median  # noqa: E402

sys.path.insert(0, str(ROOT.parent / "shared" / "reference" / "official_cocosnet" / "vectors"))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=7)
    args = p.parse_args()
    from recipe_weights import make_state_dict

    from cocosnet.correspondence import Correspondence
    from cocosnet.presets import get_model_config

    torch.set_num_threads(2)
    ref = data.astronaut()[20:276, 96:352].copy()  # the face crop, 256x256 (the face ~95 px)
    a = cv2.getRotationMatrix2D((128, 128), 12, 1.1)
    target = cv2.warpAffine(ref, a, (256, 256), borderMode=cv2.BORDER_REFLECT)
    finder = FaceFinder()
    layer = (cv2.merge([*cv2.split(ref)[:3], (ref[..., 0] > 128).astype("uint8") * 200]))
    corr = Correspondence(get_model_config("celebahq_edge", image_size=256))
    manifest = json.loads((ROOT.parent / "shared/reference/official_cocosnet/celebahqedge_netCorr.json").read_text())
    corr.load_state_dict(make_state_dict(manifest, 11))
    cases = {"mesh (offline)": MakeupTransfer(finder=finder),
             "CoCosNet correspondence": MakeupTransfer(CorrespondenceWarp(corr, finder.connections, "cpu"), finder)}
    times: dict[str, list[float]] = {k: [] for k in cases}
    for t in cases.values():  # warm-up
        t.transfer(ref, layer, [target])
    for _ in range(args.repeats):
        for name, t in cases.items():
            start = time.perf_counter()
            t.transfer(ref, layer, [target])
            times[name].append(time.perf_counter() - start)
    print(f"machine: {machine()}; 256x256 reference + 1 target (both faces found per call)")
    print("| correspondence | median s | min s |\n|---|---|---|")
    for name, xs in times.items():
        print(f"| {name} | {median(xs):.3f} | {min(xs):.3f} |")


if __name__ == "__main__":
    main()
