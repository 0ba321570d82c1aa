"""Backends side by side: s/image, first-call time, peak RSS and batch throughput per backend and dtype.

    python benchmarks/backends.py [--checkpoint DIR] [--image-size N] [--reps 5] [--rounds 2]

The network (the bundled model unless --checkpoint) is exported once with `cocosnet.export.export_network` (ONNX
float32, dynamic batch; the export time is a row of its own); each case then runs in a fresh process (its own peak
RSS): load + first translation (first call), the median of --reps timed batch-1 translations after one warm-up,
and images/s at batch 4 and 8. Cases run in --rounds interleaved rounds (A B C, C B A, ...) so a busy machine
disturbs them alike: compare ratios from one run. The machine is named from /proc/cpuinfo.
"""

from __future__ import annotations

import argparse
import atexit
import json
import shutil
import tempfile
import time
from pathlib import Path

from _util import machine, median, peak_rss_mb, print_table, run_case

CASES = [("torch", "float32"), ("torch", "bfloat16"), ("onnxruntime", "float32"), ("openvino", "float32"),
         ("openvino", "bfloat16")]


def case(args: argparse.Namespace) -> None:
    import numpy as np
    import torch

    from cocosnet.inference import Translator, default_checkpoint

    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    opts = {"device": "cpu", "dtype": args.dtype, "backend": args.backend}
    if args.backend != "torch":
        opts["exported"] = args.exported
    t = Translator.from_pretrained(args.checkpoint or default_checkpoint(), image_size=args.image_size or None, **opts)
    s, nc = t.cfg.image_size, t.cfg.label_nc
    rng = np.random.default_rng(0)
    labels = [np.kron(rng.integers(0, nc, (s // 16, s // 16)), np.ones((16, 16), np.int64)) for _ in range(8)]
    photo = (np.kron(rng.random((s // 16, s // 16, 3)), np.ones((16, 16, 1))) * 255).astype(np.uint8)
    t.translate(labels[0], photo, labels[0])
    first = time.perf_counter() - start
    times = []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        t.translate(labels[0], photo, labels[0])
        times.append(time.perf_counter() - t0)
    throughput = {}
    for b in (4, 8):
        t.translate(labels[:b], photo, labels[:b])  # warm-up at this batch
        t0 = time.perf_counter()
        t.translate(labels[:b], photo, labels[:b])
        throughput[b] = b / (time.perf_counter() - t0)
    print(json.dumps({"s_image": median(times), "first": first, "rss": peak_rss_mb(), "ips4": throughput[4],
                      "ips8": throughput[8], "ips1": 1 / median(times)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--backend", default="torch")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--exported")
    ap.add_argument("--checkpoint", help="native checkpoint folder (default: the bundled landscapes model)")
    ap.add_argument("--image-size", type=int, default=0)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if args.case:
        return case(args)

    import torch

    from cocosnet.export import export_network
    from cocosnet.inference import Translator, default_checkpoint

    torch.set_num_threads(args.threads)
    model = Translator.from_pretrained(args.checkpoint or default_checkpoint(), image_size=args.image_size or None,
                                       device="cpu").model
    folder = Path(tempfile.mkdtemp(prefix="cocosnet-bench-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    exported = export_network(model, "onnx", folder / "network.onnx", dynamic_batch=True)
    common = ["--reps", str(args.reps), "--threads", str(args.threads), "--image-size", str(args.image_size),
              "--exported", str(exported.path)] + (["--checkpoint", args.checkpoint] if args.checkpoint else [])
    results: dict[tuple, list[dict]] = {c: [] for c in CASES}
    for r in range(args.rounds):
        for backend, dtype in CASES if r % 2 == 0 else CASES[::-1]:
            out = run_case(Path(__file__), ["--backend", backend, "--dtype", dtype, *common])
            results[(backend, dtype)].append(out)
    print(f"machine: {machine()} (shared with other jobs: compare ratios)")
    print(f"model: {model.cfg.name} at {model.cfg.image_size}², ONNX export {exported.export_seconds:.1f} s + golden "
          f"check {exported.check_seconds:.1f} s (max abs {max(exported.max_abs.values()):.2g})")
    base = None
    rows = []
    for (backend, dtype), runs in results.items():
        ok = [x for x in runs if "error" not in x]
        if not ok:
            rows.append([backend, dtype, runs[0]["error"][:60], "", "", "", "", "", ""])
            continue
        s = median([x["s_image"] for x in ok])
        base = base or s
        rows.append([backend, dtype, f"{s:.3f}", f"{s / base:.2f}", f"{median([x['first'] for x in ok]):.2f}",
                     f"{max(x['rss'] for x in ok):.0f}", f"{median([x['ips1'] for x in ok]):.2f}",
                     f"{median([x['ips4'] for x in ok]):.2f}", f"{median([x['ips8'] for x in ok]):.2f}"])
    print_table(["backend", "dtype", "s/image", "vs torch fp32", "first call s", "peak RSS MB", "img/s b1",
                 "img/s b4", "img/s b8"], rows)


if __name__ == "__main__":
    main()
