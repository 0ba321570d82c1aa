"""`cocosnet prepare`: semantic inputs for a folder of your own photos, written as a `folder` data set.

OUT/images/<stem>.png        the photo (resized to --size x --size unless --size 0)
OUT/labels/<stem>.npz        the encoding under key `label`: uint8 [C,H,W] (0..255; divided by 255 on load)
OUT/keypoints/<stem>.json    pose only: COCO-18 keypoints {"keypoints": 18 x [x, y, score], ...}
OUT/preview/<stem>.png       a picture of the encoding
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from cocosnet.data.errors import BadSampleLog, DataError
from cocosnet.data.io import list_images, read_image, save_array, save_image
from cocosnet.data.prepare import KINDS, PhotoEncoder
from cocosnet.fileio import atomic_write_text


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "kind",
        choices=KINDS,
        help="pose: DeepFashion 20-ch (MediaPipe Pose); face: CelebA-HQ edge "
        "15-ch (MediaPipe Face Mesh); canny / hed: 1-ch edge map",
    )
    p.add_argument("input", help="folder of photos")
    p.add_argument("output", help="output folder (a `folder` data set)")
    p.add_argument("--size", type=int, default=256, help="resize photos to SIZE x SIZE first (0: keep)")
    p.add_argument("--skip-bad", action="store_true", help="skip unreadable photos / no person or face found")


def run(args: argparse.Namespace) -> int:
    photos = list_images(args.input)
    if not photos:
        raise FileNotFoundError(f"no photos in {args.input}")
    out = Path(args.output)
    tools = PhotoEncoder(args.kind)
    bad = BadSampleLog()
    done = 0
    for path in tqdm(photos, desc=f"prepare {args.kind}", unit="img"):
        try:
            pil = read_image(path)
            if args.size:
                pil = pil.resize((args.size, args.size), Image.BICUBIC)
            img = np.asarray(pil)
            try:
                enc, preview, extra = tools(img)
            except DataError as exc:
                raise DataError(str(exc), path) from exc
        except DataError as exc:
            if not args.skip_bad:
                raise
            bad.record(exc)
            continue
        stem = path.stem
        save_image(out / "images" / f"{stem}.png", img)
        save_array(out / "labels" / f"{stem}.npz", label=enc)
        save_image(out / "preview" / f"{stem}.png", preview)
        if extra:
            atomic_write_text(out / "keypoints" / f"{stem}.json", json.dumps(extra))
        done += 1
    msg = f"wrote {done} {args.kind} encodings to {out}"
    if bad.count:
        msg += f"; skipped {bad.count} bad photos"
    print(msg)
    return 0
