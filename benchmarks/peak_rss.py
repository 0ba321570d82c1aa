"""Peak RSS of CPU inference across identical fresh processes: the allocator's spread, per memory configuration.

    python benchmarks/peak_rss.py [--preset ade20k] [--size 256] [--processes 5] [--calls 5]
        [--configs default low-memory low-memory-huge-pages default-huge-pages]

Each process loads the preset (the reference-vector recipe weights when the shared folder is beside the checkout,
as benchmarks/inference.py), translates `--calls` times and reports its VmHWM and its median s/image after the
first call. The configurations alternate process by process, so a drifting machine load falls on all alike. The
peak of one configuration differs from one identical process to the next (the two threads' allocations decide the
heap's layout): the table gives every process, the median and the range. `*-huge-pages` runs the process with
PyTorch's THP_MEM_ALLOC_ENABLE=1 (what the CLI sets for --low-memory). docs/model.md has the results.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _util import ROOT, machine, median, peak_rss_mb, print_table  # noqa: E402

CONFIGS = {  # name -> (low_memory, tensors on huge pages)
    "default": (False, False),
    "low-memory": (True, False),
    "low-memory-huge-pages": (True, True),
    "default-huge-pages": (False, True),
}


def case(preset: str, size: int, folder: str, low_memory: bool, calls: int) -> dict:
    from cocosnet.inference import Translator
    from inference import _inputs

    tr = Translator.from_official(preset, folder=folder, device="cpu", image_size=size, low_memory=low_memory)
    sem, ex, ex_sem = _inputs(tr.cfg, 1)
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        tr.translate(sem, ex, ex_sem)
        times.append(time.perf_counter() - t)
    return {"peak_mib": peak_rss_mb(), "seconds": median(times[1:] or times)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="ade20k")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--processes", type=int, default=5, help="fresh processes per configuration")
    ap.add_argument("--calls", type=int, default=5, help="translations per process")
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    ap.add_argument("--case", nargs=4, metavar=("PRESET", "SIZE", "FOLDER", "LOW_MEMORY"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        preset, size, folder, low = args.case
        print(json.dumps(case(preset, int(size), folder, low == "1", args.calls)))
        return

    from inference import write_weights

    results: dict[str, list[dict]] = {name: [] for name in args.configs}
    with tempfile.TemporaryDirectory() as tmp:
        write_weights(args.preset, Path(tmp))
        for _ in range(args.processes):
            for name in args.configs:
                low, huge = CONFIGS[name]
                env = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"}
                env["PYTHONPATH"] = str(ROOT / "src")
                if huge:
                    env["THP_MEM_ALLOC_ENABLE"] = "1"
                proc = subprocess.run(
                    [sys.executable, __file__, "--calls", str(args.calls), "--case", args.preset, str(args.size),
                     tmp, "1" if low else "0"], capture_output=True, text=True, env=env)
                if proc.returncode != 0:
                    sys.exit(f"{name}: {proc.stderr.strip().splitlines()[-1] if proc.stderr else proc.returncode}")
                results[name].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print(f"{machine()}; {args.preset} {args.size}², fp32, batch 1, {args.calls} translations per process")
    rows = []
    for name, runs in results.items():
        peaks = [r["peak_mib"] for r in runs]
        secs = [r["seconds"] for r in runs]
        rows.append([name, ", ".join(f"{p:.0f}" for p in peaks), f"{median(peaks):.0f}",
                     f"{min(peaks):.0f}–{max(peaks):.0f}", f"{median(secs):.2f}"])
    print_table(["configuration", "peak RSS MiB (each process)", "median", "range", "s / image (median)"], rows)


if __name__ == "__main__":
    main()
