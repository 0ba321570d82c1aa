"""Correspondence warp at 64^2, 128^2 (and 256^2) feature resolution: dense matrix vs chunked vs SDPA vs the patch
sums (the default, cocosnet.nn.patch_match); each timed from the feature maps (the match vectors included).

Each case runs in its own process; the table shows the median time and the process's peak RSS.
    python benchmarks/warp_memory.py [--sizes 64 128] [--repeats 3] [--impls dense chunked sdpa patch]
    python benchmarks/warp_memory.py --network 1024 --repeats 1   # the whole ADE20k correspondence network
                                                                  # on a 1024^2 image (256^2 features)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _util import machine, median, peak_rss_mb, print_table, run_case  # noqa: E402


def case(size: int, impl: str, dim: int, repeats: int) -> dict:
    import torch

    from cocosnet.correspondence import Correspondence
    from cocosnet.nn import softmax_attention
    from cocosnet.nn.patch_match import patch_softmax_warp

    torch.manual_seed(0)
    n = size * size
    feat_q = torch.randn(1, dim // 9, size, size)
    feat_k = torch.randn(1, dim // 9, size, size)
    corr = Correspondence.__new__(Correspondence)
    corr.cfg = type("C", (), {"match_kernel": 3})()
    v = torch.randn(1, n, 3)
    base = peak_rss_mb()
    times = []
    with torch.inference_mode():
        for _ in range(repeats):
            t = time.perf_counter()
            if impl == "patch":
                out = patch_softmax_warp(feat_q, feat_k, v, 100.0, 3, chunk=4096)
            else:
                q, k = corr._match_vectors(feat_q), corr._match_vectors(feat_k)
                if impl == "dense":
                    out = torch.matmul(torch.softmax(torch.matmul(q, k.transpose(1, 2)) * 100, -1), v)
                else:
                    out = softmax_attention(q, k, v, 100.0, impl, chunk=4096)
                del q, k
            times.append(time.perf_counter() - t)
    del out
    return {"seconds": median(times), "peak_mb": peak_rss_mb(), "base_mb": base}


def network_case(image: int, repeats: int) -> dict:
    """The full-width ADE20k correspondence network (random weights) on one image pair: adaptors, shared blocks and
    the default warp (the patch sums), under inference_mode; peak RSS includes the weights and the inputs."""
    import torch

    from cocosnet.correspondence import Correspondence
    from cocosnet.label_resize import resize_ids
    from cocosnet.model import encode_semantic
    from cocosnet.presets import get_model_config

    torch.manual_seed(0)
    cfg = get_model_config("ade20k", image_size=image)
    corr = Correspondence(cfg).eval()
    ids = torch.randint(0, cfg.label_nc, (1, 1, image, image))
    ex_ids = torch.randint(0, cfg.label_nc, (1, 1, image, image))
    exemplar = torch.rand(1, 3, image, image) * 2 - 1
    base = peak_rss_mb()
    times = []
    with torch.inference_mode():
        for _ in range(repeats):
            # as Translator does: the exemplar's labels are resized to the feature size before they are encoded
            semantic = encode_semantic(ids, cfg)
            ex_semantic = encode_semantic(resize_ids(ex_ids[:, 0], (image // 4, image // 4))[:, None], cfg)
            t = time.perf_counter()
            out = corr(semantic, exemplar, ex_semantic, label_ids=ids[:, 0])
            times.append(time.perf_counter() - t)
            assert out.warp_out.shape == (1, 3, image, image) and torch.isfinite(out.warp_out).all()
            del out, semantic, ex_semantic
    return {"seconds": median(times), "peak_mb": peak_rss_mb(), "base_mb": base}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", nargs=4, metavar=("SIZE", "IMPL", "DIM", "REPEATS"))
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    ap.add_argument("--dim", type=int, default=2304, help="match-vector length (256 channels x 3x3 = 2304)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--impls", nargs="+", default=["dense", "chunked", "sdpa", "patch"],
                    choices=["dense", "chunked", "sdpa", "patch"])
    ap.add_argument("--network", type=int, nargs="+", default=None, metavar="IMAGE",
                    help="run the whole ADE20k correspondence network at these image sizes instead")
    args = ap.parse_args()
    if args.network:
        rows = []
        for image in args.network:
            r = run_case(Path(__file__), [str(image), "network", "0", str(args.repeats)])
            if "error" in r:
                rows.append([f"{image}^2", f"{image // 4}^2", "error", r["error"][:60], ""])
                continue
            rows.append([f"{image}^2", f"{image // 4}^2", f"{r['seconds']:.1f}", f"{r['peak_mb'] / 1024:.2f}",
                         f"{(image // 4) ** 4 * 4 / 1e9:.1f}"])
        print(f"machine: {machine()}")
        print_table(["image", "features", "median s", "peak RSS GB", "dense matrix GB"], rows)
        return
    if args.case:
        s, impl, dim, rep = args.case
        result = network_case(int(s), int(rep)) if impl == "network" else case(int(s), impl, int(dim), int(rep))
        print(json.dumps(result))
        return
    rows = []
    for size in args.sizes:
        n = size * size
        for impl in args.impls:
            if impl == "dense" and n * n * 4 > 8e9:
                rows.append([f"{size}^2", impl, "skipped", f"needs {n * n * 4 / 1e9:.0f} GB", ""])
                continue
            r = run_case(Path(__file__), [str(size), impl, str(args.dim), str(args.repeats)])
            if "error" in r:
                rows.append([f"{size}^2", impl, "error", r["error"][:60], ""])
                continue
            rows.append([f"{size}^2", impl, f"{r['seconds']:.2f}", f"{r['peak_mb'] - r['base_mb']:.0f}",
                         f"{n * n * 4 / 1e6:.0f}"])
    print(f"machine: {machine()}")
    print_table(["features", "impl", "median s", "extra peak RSS MB", "dense matrix MB"], rows)


if __name__ == "__main__":
    main()
