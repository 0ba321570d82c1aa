"""Landscape generation throughput on one core: layouts, renders and both, at several sizes.

Wall-clock and CPU-time rates; on a shared machine the CPU-time column is the one-core figure.

PYTHONPATH=src python benchmarks/landscapes_throughput.py [--n 100] [--sizes 64 128 256 512]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import torch  # noqa: E402

from cocosnet.data.landscapes import make_layout, make_style, render  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100, help="images per size")
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256, 512])
    args = ap.parse_args()
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    print(f"{'size':>6} {'layout ms':>10} {'render ms':>10} {'img/s (wall)':>13} {'img/s (cpu)':>12}")
    for size in args.sizes:
        make_layout(0, size), render(make_layout(1, size), make_style(1))  # warm-up
        c0 = time.process_time()
        t0 = time.perf_counter()
        layouts = [make_layout(10_000 + i, size) for i in range(args.n)]
        t1 = time.perf_counter()
        styles = [make_style(20_000 + i) for i in range(args.n)]
        t2 = time.perf_counter()
        for lay, sty in zip(layouts, styles, strict=True):
            render(lay, sty)
        t3 = time.perf_counter()
        c3 = time.process_time()
        lay_ms = (t1 - t0) / args.n * 1e3
        ren_ms = (t3 - t2) / args.n * 1e3
        total = (t3 - t0) / args.n
        cpu = (c3 - c0) / args.n
        print(f"{size:>6} {lay_ms:>10.2f} {ren_ms:>10.2f} {1.0 / total:>13.1f} {1.0 / cpu:>12.1f}")


if __name__ == "__main__":
    main()
