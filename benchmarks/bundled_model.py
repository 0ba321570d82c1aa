"""The bundled landscapes model: median seconds and peak RSS of one translation per image size, on the CPU.

    python benchmarks/bundled_model.py [--sizes 128 256] [--repeats 5] [--threads 2]
Each size runs in a fresh process (so peak RSS is its own) on landscapes test pairs, after one warm-up.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _util import machine, median, peak_rss_mb, print_table, run_case  # noqa: E402


def case(size: int, repeats: int, threads: int) -> dict:
    import torch

    from cocosnet.data.landscapes_dataset import LandscapesDataset
    from cocosnet.inference import Translator
    from cocosnet.inference.default_model import default_checkpoint

    torch.set_num_threads(threads)
    tr = Translator.from_pretrained(default_checkpoint(), device="cpu", image_size=size)
    data = LandscapesDataset("test", size=size, length=100)
    samples = [data[i] for i in range(repeats + 1)]
    times = []
    for i, s in enumerate(samples):
        t = time.perf_counter()
        tr.translate(s["label"], s["exemplar"], s["exemplar_label"])
        if i:  # the first is the warm-up
            times.append(time.perf_counter() - t)
    return {"seconds": median(times), "peak_gb": peak_rss_mb() / 1024}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", nargs=3, metavar=("SIZE", "REPEATS", "THREADS"))
    ap.add_argument("--sizes", nargs="+", type=int, default=[128, 256])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if args.case:
        print(json.dumps(case(*map(int, args.case))))
        return
    rows = []
    for size in args.sizes:
        r = run_case(Path(__file__), [str(size), str(args.repeats), str(args.threads)])
        rows.append([f"{size}²", *(("error", r["error"][:80]) if "error" in r else
                                   (f"{r['seconds']:.3f}", f"{r['peak_gb']:.2f}"))])
    print(f"machine: {machine()}; bundled landscapes model, batch 1, median of {args.repeats} after a warm-up")
    print_table(["size", "s / image", "peak RSS GB"], rows)


if __name__ == "__main__":
    main()
