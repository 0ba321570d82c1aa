"""Latency of multi-exemplar translation at 256x256 on CPU: K exemplars (K correspondence passes, one generator
pass) against the single-exemplar `translate`, interleaved in one process (A/B/A/B...) so a shared machine disturbs
both alike.

    PYTHONPATH=src python benchmarks/multi_exemplar.py [--n 7] [--k 1 2 3] [--image-size 256] [--threads 2]

The bundled landscapes model's preset with random weights (the latency does not depend on the weights), run at
--image-size; inputs from the landscapes test split. Reported: median seconds per image and the ratio to K=1.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _util import machine, median, print_table  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=7, help="timed rounds (after one warm-up round)")
    ap.add_argument("--k", type=int, nargs="+", default=[1, 2, 3], help="numbers of exemplars")
    ap.add_argument("--image-size", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = ap.parse_args()

    from cocosnet.data.landscapes_dataset import LandscapesDataset
    from cocosnet.inference import Translator
    from cocosnet.model import CoCosNet
    from cocosnet.presets import get_model_config

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    tr = Translator(CoCosNet(get_model_config("landscapes", image_size=args.image_size)), device="cpu")
    data = LandscapesDataset("test", size=args.image_size, length=8)
    s = [data[i] for i in range(max(args.k))]
    label = s[0]["label"]

    def run(k: int) -> None:
        if k == 1:  # the plain single-exemplar path
            tr.translate(label, s[0]["exemplar"], s[0]["exemplar_label"])
        else:
            tr.translate_multi(label, [x["exemplar"] for x in s[:k]], [x["exemplar_label"] for x in s[:k]],
                               assign={"sky": k - 1})

    times: dict[int, list[float]] = {k: [] for k in args.k}
    for round_ in range(args.n + 1):
        for k in args.k:
            start = time.perf_counter()
            run(k)
            if round_:  # the first round warms up
                times[k].append(time.perf_counter() - start)
    base = median(times[args.k[0]])
    rows = [[k, f"{median(times[k]):.3f}", f"{median(times[k]) / base:.2f}x"] for k in args.k]
    print(f"machine: {machine()}; landscapes preset at {args.image_size}x{args.image_size}, random weights; "
          f"median of {args.n}, interleaved")
    print_table(["exemplars K", "s / image", f"vs K={args.k[0]}"], rows)


if __name__ == "__main__":
    main()
