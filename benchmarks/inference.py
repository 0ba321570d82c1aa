"""CPU/GPU inference of the full-width official architectures: median seconds per image and peak RSS.

Weights: the reference-vector recipe (official key layout, converged spectral-norm vectors) when the shared
reference folder is beside the checkout, else random; timing does not depend on the values.
    python benchmarks/inference.py [--presets ade20k celebahq_edge deepfashion] [--size 256] [--repeats 5]
        [--variants fp32 fp32-cl bf16 bf16-cl fp32-compile ...] [--batches 1 4 8] [--streams 2] [--device cpu]
Each variant (dtype, channels-last layout, `--compile`, `--conv-algorithm winograd`) runs in its own process: median
s/image of `--repeats` after a warm-up, the first call's time, peak RSS at batch 1, FLOPs, achieved GFLOP/s against
this machine's 3x3-convolution peak (measured here too), and images/s at each batch size, one forward per batch and
(`--streams`) the batch run as concurrent streams (inference/streams.py). The official implementation's time and peak
RSS (`OFFICIAL`, measured on the same machine class) are printed above the table; docs/model.md has the results.
A compiled variant's first call is its compile, in an empty inductor cache of its own; a second process then loads
the model again with that cache warm and times its first call alone ("warm first s": what a later run pays).
    python benchmarks/inference.py --interleaved [--variants fp32 fp32-compile] [--size 128]
runs the variants side by side in one process instead (each round runs every variant once), for a shared machine:
median s/image and the ratio to the first variant.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
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


def _inputs(cfg, batch: int):
    import torch

    size = cfg.image_size
    g = torch.Generator().manual_seed(0)
    if cfg.label_nc:
        sem = [torch.randint(0, cfg.label_nc, (1, size, size), generator=g) for _ in range(batch)]
    else:
        sem = [torch.rand(cfg.semantic_nc, size, size, generator=g) for _ in range(batch)]
    ex = torch.rand(3, size, size, generator=g) * 2 - 1
    return sem, ex, (sem[0] if cfg.maskmix else None)


def _timed(tr, sem, ex, ex_sem) -> float:
    import torch

    if tr.device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    out = tr.translate(sem, ex, ex_sem)
    if tr.device.type == "cuda":
        torch.cuda.synchronize()
    assert torch.isfinite(out.image).all()
    return time.perf_counter() - t


def _load(spec: dict):
    from cocosnet.inference import Translator

    return Translator.from_official(spec["preset"], folder=spec["folder"], device=spec["device"],
                                    dtype=spec["dtype"], channels_last=spec["channels_last"],
                                    compile=spec.get("compile", False), low_memory=spec["low_memory"],
                                    conv_algorithm=spec.get("conv_algorithm", "direct"),
                                    image_size=spec["size"])


def interleaved(spec: dict) -> dict:
    """Every variant in this one process, each round running each once (the order rotates): a shared machine's
    load falls on all of them alike. Returns per variant the first call and the median of the rounds."""
    trs = {name: _load({**spec, **dict(zip(("dtype", "channels_last", "compile", "conv_algorithm"), VARIANTS[name],
                                                strict=True))})
           for name in spec["variants"]}
    sem, ex, ex_sem = _inputs(next(iter(trs.values())).cfg, 1)
    first = {name: _timed(tr, sem, ex, ex_sem) for name, tr in trs.items()}
    times: dict[str, list[float]] = {name: [] for name in trs}
    names = list(trs)
    for r in range(spec["repeats"]):
        for name in names[r % len(names):] + names[: r % len(names)]:
            times[name].append(_timed(trs[name], sem, ex, ex_sem))
    return {name: {"first_s": first[name], "seconds": median(times[name])} for name in names}


def case(spec: dict) -> dict:
    """One configuration in this process: load, first call, median of `repeats`, peak RSS, FLOPs, batch rates."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    t0 = time.perf_counter()
    tr = _load(spec)
    load_s = time.perf_counter() - t0
    sem, ex, ex_sem = _inputs(tr.cfg, 1)
    first_s = _timed(tr, sem, ex, ex_sem)  # oneDNN primitive creation, first-touch of every buffer; or the compile
    if spec.get("first_only"):
        return {"first_s": first_s, "load_s": load_s}
    times = [_timed(tr, sem, ex, ex_sem) for _ in range(spec["repeats"])]
    peak = peak_rss_mb() / 1024  # batch 1 only: the batch rates below need more memory
    gpu = torch.cuda.max_memory_allocated() / 2**30 if tr.device.type == "cuda" else 0.0
    # matmul/conv FLOPs (2 per MAC) of one translation, counted on the eager network (the same operations)
    with torch.compiler.set_stance("force_eager"), FlopCounterMode(display=False) as counter:
        tr.translate(sem, ex, ex_sem)
    rates, streamed = {}, {}
    plain_runtime = tr.runtime
    for b in spec["batches"]:
        bsem, bex, bex_sem = _inputs(tr.cfg, b)
        for streams, into in ((1, rates), (spec.get("streams", 1), streamed)):
            if into is streamed and (streams == 1 or b == 1):  # one item never streams
                continue
            tr.runtime = plain_runtime.replace(streams=streams)  # throughput mode (inference/streams.py)
            _timed(tr, bsem, bex, bex_sem)  # warm-up at this batch size
            into[b] = b / median([_timed(tr, bsem, bex, bex_sem) for _ in range(spec["batch_repeats"])])
    tr.runtime = plain_runtime
    return {"seconds": median(times), "first_s": first_s, "peak_gb": peak, "load_s": load_s,
            "gflop": counter.get_total_flops() / 1e9, "gpu_gb": gpu, "rates": rates, "streamed": streamed}


def conv_peak(dtype: str, repeats: int = 5) -> float:
    """GFLOP/s of one channels-last 3x3 convolution, 256 -> 256 channels at 64² (the generator's middle layers)."""
    import torch
    import torch.nn.functional as F

    dt = getattr(torch, dtype)
    x = torch.randn(1, 256, 64, 64).to(dt).contiguous(memory_format=torch.channels_last)
    w = torch.randn(256, 256, 3, 3).to(dt).contiguous(memory_format=torch.channels_last)
    flop = 2 * 256 * 256 * 9 * 64 * 64
    with torch.inference_mode():
        F.conv2d(x, w, padding=1)
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            F.conv2d(x, w, padding=1)
            times.append(time.perf_counter() - t)
    return flop / median(times) / 1e9


VARIANTS = {  # name: (dtype, channels_last, compile, conv_algorithm)
    "fp32": ("float32", False, False, "direct"), "fp32-cl": ("float32", True, False, "direct"),
    "bf16": ("bfloat16", False, False, "direct"), "bf16-cl": ("bfloat16", True, False, "direct"),
    "fp32-winograd": ("float32", False, False, "winograd"), "fp32-compile": ("float32", False, True, "direct"),
    "fp32-compile-winograd": ("float32", False, True, "winograd"),
    "fp32-cl-compile": ("float32", True, True, "direct"), "bf16-cl-compile": ("bfloat16", True, True, "direct"),
    "bf16-cl-winograd": ("bfloat16", True, False, "winograd"),
    "bf16-cl-compile-winograd": ("bfloat16", True, True, "winograd")}
DEFAULT_VARIANTS = ["fp32", "fp32-cl", "bf16", "bf16-cl"]  # the compiled ones take minutes each: ask for them


def run_compiled_case(spec: dict) -> dict:
    """A compiled variant: cold (an empty inductor cache of its own), then the first call of a second process with
    that cache warm."""
    with tempfile.TemporaryDirectory(prefix="inductor-") as cache:
        with _inductor_cache(cache):
            r = run_case(Path(__file__), [json.dumps(spec)])
            if "error" not in r:
                warm = run_case(Path(__file__), [json.dumps({**spec, "first_only": True})])
                r["warm_first_s"] = warm.get("first_s")
    return r


@contextlib.contextmanager
def _inductor_cache(folder: str):
    """TORCHINDUCTOR_CACHE_DIR=folder for the case processes started meanwhile (they inherit the environment)."""
    old = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = folder
    try:
        yield
    finally:
        if old is None:
            del os.environ["TORCHINDUCTOR_CACHE_DIR"]
        else:
            os.environ["TORCHINDUCTOR_CACHE_DIR"] = old


def main_interleaved(args) -> None:
    rows = []
    for preset in args.presets:
        with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory(prefix="inductor-") as cache:
            write_weights(preset, Path(tmp))
            spec = {"interleaved": True, "preset": preset, "folder": tmp, "device": args.device,
                    "low_memory": args.low_memory, "size": args.size, "repeats": args.repeats,
                    "variants": args.variants}
            with _inductor_cache(cache):
                r = run_case(Path(__file__), [json.dumps(spec)])
            if "error" in r:
                rows.append([preset, "error", r["error"][:80], "", ""])
                continue
            base = r[args.variants[0]]["seconds"]
            rows += [[preset, name, f"{r[name]['seconds']:.3f}", f"{r[name]['seconds'] / base:.2f}",
                      f"{r[name]['first_s']:.1f}"] for name in args.variants]
    print(f"machine: {machine()}; device {args.device}; {args.size}²; interleaved in one process, median of "
          f"{args.repeats} rounds; load average {os.getloadavg()[0]:.1f} at the end")
    print_table(["preset", "variant", "s / image", f"vs {args.variants[0]}", "first call s"], rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", help=argparse.SUPPRESS)
    ap.add_argument("--presets", nargs="+", default=["ade20k"])
    ap.add_argument("--variants", nargs="+", default=DEFAULT_VARIANTS, choices=list(VARIANTS))
    ap.add_argument("--interleaved", action="store_true",
                    help="all variants in one process, side by side (ratios on a shared machine)")
    ap.add_argument("--size", type=int, default=256, help="resolution (multiple of 32)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batches", type=int, nargs="*", default=[1, 4, 8], help="batch sizes for images/s")
    ap.add_argument("--batch-repeats", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--low-memory", action="store_true", help="Translator(low_memory=True): lower peak RSS, slower")
    ap.add_argument("--streams", type=int, default=2,
                    help="also images/s at each batch size with the batch as this many concurrent streams (1: not)")
    args = ap.parse_args()
    if args.case:
        spec = json.loads(args.case)
        if spec.get("conv_peak"):
            print(json.dumps({d: conv_peak(d) for d in ("float32", "bfloat16")}))
        elif spec.get("interleaved"):
            print(json.dumps(interleaved(spec)))
        else:
            print(json.dumps(case(spec)))
        return
    if args.interleaved:
        main_interleaved(args)
        return
    peak = run_case(Path(__file__), [json.dumps({"conv_peak": True})])
    streamed_batches = [b for b in args.batches if b > 1] if args.streams > 1 else []
    headers = ["preset", "variant", "s / image", "first call s", "warm first s", "peak RSS GB", "GFLOP", "GFLOP/s",
               "of conv peak",
               *(f"img/s b{b}" for b in args.batches), "batch gain",
               *(f"img/s b{b}, {args.streams} streams (vs b{args.batches[0]})" for b in streamed_batches)]
    rows = []
    for preset in args.presets:
        with tempfile.TemporaryDirectory() as tmp:
            write_weights(preset, Path(tmp))
            for name in args.variants:
                dtype, cl, compiled, conv_algorithm = VARIANTS[name]
                spec = {"preset": preset, "folder": tmp, "device": args.device, "dtype": dtype, "channels_last": cl,
                        "compile": compiled, "conv_algorithm": conv_algorithm, "low_memory": args.low_memory,
                        "size": args.size,
                        "repeats": args.repeats, "batches": args.batches, "batch_repeats": args.batch_repeats,
                        "streams": args.streams}
                r = run_compiled_case(spec) if compiled else run_case(Path(__file__), [json.dumps(spec)])
                if "error" in r:
                    rows.append([preset, name, "error", r["error"][:80], *[""] * (len(headers) - 4)])
                    continue
                base = r["rates"][str(args.batches[0])] if args.batches else 0.0
                with_streams = [f"{r['streamed'][str(b)]:.2f} ({r['streamed'][str(b)] / base:.2f}x)"
                                for b in args.batches if str(b) in r["streamed"]]
                achieved = r["gflop"] / r["seconds"]
                warm = r.get("warm_first_s")
                rows.append([preset, name, f"{r['seconds']:.2f}", f"{r['first_s']:.2f}",
                             "" if warm is None else f"{warm:.2f}", f"{r['peak_gb']:.2f}",
                             f"{r['gflop']:.0f}", f"{achieved:.0f}",
                             f"{achieved / peak['bfloat16' if dtype == 'bfloat16' else 'float32']:.0%}",
                             *(f"{r['rates'][str(b)]:.2f}" for b in args.batches),
                             f"{r['rates'][str(args.batches[-1])] / base:.2f}x" if len(args.batches) > 1 else "",
                             *with_streams])
    scale = (args.size / 256) ** 2
    print(f"machine: {machine()}; device {args.device}; {args.size}²; median of {args.repeats} after a warm-up"
          f"{'; low_memory' if args.low_memory else ''}")
    print(f"3x3 conv 256->256 at 64², channels-last: fp32 {peak['float32']:.0f} GFLOP/s, "
          f"bf16 {peak['bfloat16']:.0f} GFLOP/s")
    if args.device == "cpu":
        print("official PyTorch, batch 1 (ARCHITECTURE.md §9, same machine class, 256²): "
              + ", ".join(f"{p} {OFFICIAL[p][0] * scale:.2f} s / {OFFICIAL[p][1]} GB" for p in args.presets
                          if p in OFFICIAL) + (" (scaled by pixels)" if args.size != 256 else ""))
    print(f"load average {os.getloadavg()[0]:.1f} at the end (2 cores: above ~2 the machine was shared)")
    print_table(headers, rows)


if __name__ == "__main__":
    main()
