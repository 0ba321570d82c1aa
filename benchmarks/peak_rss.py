"""Peak RSS of CPU inference across identical fresh processes: the allocator's spread, per memory configuration.

    python benchmarks/peak_rss.py [--preset ade20k] [--size 256] [--processes 5] [--calls 5]
        [--configs default default-keep-weight-pages low-memory low-memory-huge-pages default-huge-pages
                   default-no-primitive-cache channels-last bf16 bf16-channels-last]

Each process loads the preset (the reference-vector recipe weights when the shared folder is beside the checkout, as
benchmarks/inference.py), reports its VmHWM once the Translator is built (the weights' conversion included),
translates `--calls` times and reports its VmHWM and its median s/image after the first call. The configurations
alternate process by process, so a drifting machine load falls on all alike. The peak of one configuration differs
from one identical process to the next (the two threads' allocations decide the heap's layout): the table gives
every process, the median and the range. `*-huge-pages` runs the process with PyTorch's THP_MEM_ALLOC_ENABLE=1 (what
the CLI sets for --low-memory), `default-no-primitive-cache` with oneDNN's primitive cache off
(ONEDNN_PRIMITIVE_CACHE_CAPACITY=0), `default-keep-weight-pages` with every memory-mapped weight left mapped
(RuntimeOptions.unmap_weights=False, the default before they were unmapped block by block). docs/model.md has the
results.
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

HUGE = {"THP_MEM_ALLOC_ENABLE": "1"}
CONFIGS = {  # name -> (Translator options, the process's extra environment)
    "default": ({}, {}),
    "default-keep-weight-pages": ({"unmap_weights": False}, {}),
    "low-memory": ({"low_memory": True}, {}),
    "low-memory-huge-pages": ({"low_memory": True}, HUGE),
    "default-huge-pages": ({}, HUGE),
    "default-no-primitive-cache": ({}, {"ONEDNN_PRIMITIVE_CACHE_CAPACITY": "0"}),
    "channels-last": ({"channels_last": True}, {}),
    # bf16 weights cast once: on a CPU without AVX-512 BF16 / AMX, NCHW bf16 falls back to PyTorch's reference
    # convolution (~15 min per 256² image on 2 cores, with im2col buffers oneDNN would not make: use --calls 0
    # there); channels-last bf16 still runs oneDNN, emulated (~4 min)
    "bf16": ({"dtype": "bfloat16"}, {}),
    "bf16-channels-last": ({"dtype": "bfloat16", "channels_last": True}, {}),
}

ENV_SET = {key for _, extra in CONFIGS.values() for key in extra}  # cleared first, so each config sets only its own


def case(preset: str, size: int, folder: str, options: dict, calls: int) -> dict:
    from cocosnet.inference import Translator
    from inference import _inputs

    tr = Translator.from_official(preset, folder=folder, device="cpu", image_size=size, **options)
    loaded = peak_rss_mb()
    sem, ex, ex_sem = _inputs(tr.cfg, 1)
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        tr.translate(sem, ex, ex_sem)
        times.append(time.perf_counter() - t)
    return {"load_mib": loaded, "peak_mib": peak_rss_mb(), "seconds": median(times[1:] or times) if times else 0.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="ade20k")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--processes", type=int, default=5, help="fresh processes per configuration")
    ap.add_argument("--calls", type=int, default=5, help="translations per process")
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    ap.add_argument("--case", nargs=4, metavar=("PRESET", "SIZE", "FOLDER", "CONFIG"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        preset, size, folder, name = args.case
        print(json.dumps(case(preset, int(size), folder, CONFIGS[name][0], args.calls)))
        return

    from inference import write_weights

    results: dict[str, list[dict]] = {name: [] for name in args.configs}
    with tempfile.TemporaryDirectory() as tmp:
        write_weights(args.preset, Path(tmp))
        for _ in range(args.processes):
            for name in args.configs:
                env = {k: v for k, v in os.environ.items() if k not in ENV_SET}
                env.update(CONFIGS[name][1], PYTHONPATH=str(ROOT / "src"))
                proc = subprocess.run(
                    [sys.executable, __file__, "--calls", str(args.calls), "--case", args.preset, str(args.size),
                     tmp, name], capture_output=True, text=True, env=env)
                if proc.returncode != 0:
                    sys.exit(f"{name}: {proc.stderr.strip().splitlines()[-1] if proc.stderr else proc.returncode}")
                results[name].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print(f"{machine()}; {args.preset} {args.size}², batch 1, {args.calls} translations per process")
    rows = []
    for name, runs in results.items():
        peaks = [r["peak_mib"] for r in runs]
        secs = [r["seconds"] for r in runs]
        rows.append([name, f"{median([r['load_mib'] for r in runs]):.0f}", ", ".join(f"{p:.0f}" for p in peaks),
                     f"{median(peaks):.0f}", f"{min(peaks):.0f}–{max(peaks):.0f}",
                     f"{median(secs):.2f}" if args.calls else "-"])
    print_table(["configuration", "peak when loaded MiB (median)", "peak RSS MiB (each process)", "median", "range",
                 "s / image (median)"], rows)


if __name__ == "__main__":
    main()
