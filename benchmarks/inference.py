"""CPU/GPU inference of the full-width official architectures: median seconds per image and peak RSS.

Weights: the reference-vector recipe (official key layout, converged spectral-norm vectors) when the shared
reference folder is beside the checkout, else random; timing does not depend on the values.
    python benchmarks/inference.py [--presets ade20k celebahq_edge deepfashion] [--repeats 3] [--device cpu]
The table shows the official implementation's time and peak RSS beside ours (`OFFICIAL`); the results of both
are in docs/model.md, with the machines they were measured on.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _util import ROOT, machine, median, peak_rss_mb, print_table, run_case  # noqa: E402

MANIFEST = {"ade20k": "ade20k", "celebahq_edge": "celebahqedge", "deepfashion": "deepfashion",
            "celebahq_mask": "celebahq"}
# The official code, batch 1, 256^2, median of 3 after a warm-up, on the 2-core AMD EPYC (ARCHITECTURE.md §9): (s, GB)
OFFICIAL = {"ade20k": (9.9, 2.20), "celebahq_edge": (7.9, 2.02), "deepfashion": (8.4, 2.04),
            "celebahq_mask": (8.2, 2.10)}
SHARED = ROOT.parent / "shared" / "reference" / "official_cocosnet"


def write_weights(preset: str, folder: Path) -> None:
    import torch

    if (SHARED / "vectors" / "recipe_weights.py").is_file():
        sys.path.insert(0, str(SHARED / "vectors"))
        from recipe_weights import make_state_dict

        for net, name in (("netG", "G"), ("netCorr", "Corr")):
            manifest = json.loads((SHARED / f"{MANIFEST[preset]}_{net}.json").read_text())
            torch.save(make_state_dict(manifest, 11), folder / f"latest_net_{name}.pth")
    else:
        from cocosnet.model import CoCosNet
        from cocosnet.presets import get_model_config

        model = CoCosNet(get_model_config(preset))
        torch.save(model.generator.state_dict(), folder / "latest_net_G.pth")
        torch.save(model.correspondence.state_dict(), folder / "latest_net_Corr.pth")


def case(preset: str, folder: str, repeats: int, device: str, batch: int, low_memory: bool = False) -> dict:
    import torch

    from cocosnet.inference import Translator

    t0 = time.perf_counter()
    tr = Translator.from_official(preset, folder=folder, device=device, low_memory=low_memory)
    load_s = time.perf_counter() - t0
    cfg = tr.cfg
    size = cfg.image_size
    g = torch.Generator().manual_seed(0)
    if cfg.label_nc:
        sem = [torch.randint(0, cfg.label_nc, (1, size, size), generator=g) for _ in range(batch)]
    else:
        sem = [torch.rand(cfg.semantic_nc, size, size, generator=g) for _ in range(batch)]
    ex = torch.rand(3, size, size, generator=g) * 2 - 1
    ex_sem = sem[0] if cfg.maskmix else None
    tr.translate(sem, ex, ex_sem)  # warm-up
    times = []
    for _ in range(repeats):
        if tr.device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        out = tr.translate(sem, ex, ex_sem)
        if tr.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    gpu = torch.cuda.max_memory_allocated() / 2**30 if tr.device.type == "cuda" else 0.0
    peak = peak_rss_mb() / 1024
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:  # matmul/conv FLOPs (2 per MAC) of one more translation
        tr.translate(sem[:1], ex, ex_sem)
    return {"seconds": median(times) / batch, "peak_gb": peak, "load_s": load_s,
            "gflop": counter.get_total_flops() / 1e9,
            "finite": bool(torch.isfinite(out.image).all()), "gpu_gb": gpu}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", nargs=6, metavar=("PRESET", "DIR", "REPEATS", "DEVICE", "BATCH", "LOW_MEMORY"))
    ap.add_argument("--presets", nargs="+", default=["ade20k", "celebahq_edge", "deepfashion"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--low-memory", action="store_true", help="Translator(low_memory=True): lower peak RSS, slower")
    args = ap.parse_args()
    if args.case:
        p, d, r, dev, b, low = args.case
        print(json.dumps(case(p, d, int(r), dev, int(b), low == "1")))
        return
    rows = []
    for preset in args.presets:
        with tempfile.TemporaryDirectory() as tmp:
            write_weights(preset, Path(tmp))
            r = run_case(Path(__file__), [preset, tmp, str(args.repeats), args.device, str(args.batch),
                                                 "1" if args.low_memory else "0"])
        if "error" in r:
            rows.append([preset, "error", r["error"][:80], "", "", "", ""])
            continue
        off_s, off_gb = OFFICIAL[preset]
        rows.append([preset, f"{r['seconds']:.2f}", f"{r['peak_gb']:.2f}", f"{r['gflop']:.0f}", f"{r['load_s']:.2f}",
                     f"{off_s} / {off_gb}" if args.device == "cpu" else "", r["finite"]])
    print(f"machine: {machine()}; device {args.device}; batch {args.batch}; median of {args.repeats}"
          f"{'; low_memory' if args.low_memory else ''}")
    print_table(["preset", "s / image", "peak RSS GB", "GFLOP", "load s", "official s / GB (CPU)", "finite"], rows)


if __name__ == "__main__":
    main()
