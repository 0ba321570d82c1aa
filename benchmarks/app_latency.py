"""Latency of the web app's Translate request at 256x256 on CPU, through real HTTP (uvicorn on 127.0.0.1).

    PYTHONPATH=src python benchmarks/app_latency.py [--n 20] [--checkpoint DIR|random] [--image-size 256] [--threads 2]

Default model: the bundled landscapes model (`random`: its preset with random weights; the latency does not depend
on the weights), run at --image-size (default 256; the bundled model was trained at 128). Each request sends a
label PNG and a gallery exemplar id and receives the output and the warped exemplar as PNG; reported: end-to-end
(client) and model-only (server) times.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import platform
import statistics
import time

import numpy as np
import torch
from PIL import Image


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20, help="timed requests (after 2 warm-up ones)")
    ap.add_argument("--checkpoint", default="bundled", help="native model folder, 'bundled' (default) or 'random'")
    ap.add_argument("--image-size", type=int, default=256, help="resolution the model runs at (default 256)")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    import httpx

    from cocosnet.app import BackgroundServer, create_app
    from cocosnet.commands.serve import builtin_gallery
    from cocosnet.inference import Translator
    from cocosnet.model import CoCosNet
    from cocosnet.presets import get_model_config

    torch.set_num_threads(args.threads)
    if args.checkpoint == "random":
        torch.manual_seed(0)
        cfg = get_model_config("landscapes", image_size=args.image_size)
        translator = Translator(CoCosNet(cfg), device=args.device)
    else:
        from cocosnet.inference.default_model import default_checkpoint

        folder = default_checkpoint() if args.checkpoint == "bundled" else args.checkpoint
        translator = Translator.from_pretrained(folder, device=args.device, image_size=args.image_size)
    cfg = translator.cfg
    gallery = builtin_gallery(cfg)
    items = list(gallery.items.values())
    rng = np.random.default_rng(0)
    labels = []
    for item in items:  # each request: a gallery layout with a painted change, so nothing is cached
        ids = item.label.copy()
        y, x = rng.integers(0, cfg.image_size - 40, 2)
        ids[y:y + 40, x:x + 40] = rng.integers(1, cfg.label_nc)
        buf = io.BytesIO()
        Image.fromarray(ids.astype(np.uint8)).save(buf, format="PNG")
        labels.append(base64.b64encode(buf.getvalue()).decode())

    total, model = [], []
    with BackgroundServer(create_app(translator, gallery)) as url, httpx.Client(base_url=url, timeout=300) as client:
        for i in range(args.n + 2):
            body = {"label": labels[i % len(labels)], "exemplar_id": items[(i + 1) % len(items)].id}
            start = time.perf_counter()
            r = client.post("/api/translate", json=body)
            elapsed = time.perf_counter() - start
            r.raise_for_status()
            if i >= 2:
                total.append(elapsed)
                model.append(r.json()["seconds"])
    result = {
        "preset": cfg.name, "image_size": cfg.image_size, "device": str(translator.device),
        "torch_threads": torch.get_num_threads(), "requests": args.n,
        "median_s": round(statistics.median(total), 3), "p90_s": round(sorted(total)[int(0.9 * (args.n - 1))], 3),
        "min_s": round(min(total), 3), "model_median_s": round(statistics.median(model), 3),
        "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2), "torch": torch.__version__,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
