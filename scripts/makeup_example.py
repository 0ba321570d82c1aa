"""Makeup-transfer inputs from scikit-image's astronaut (installs offline): a reference portrait, a makeup layer
painted on it (lipstick, eyeshadow, blush) from its Face Mesh regions, and a target under a known warp.

    python scripts/makeup_example.py results/makeup        # writes reference.png, layer.png, target.png
    python scripts/makeup_example.py results/makeup --figure docs/results/makeup_astronaut.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from skimage import data

from cocosnet.data.io import save_image
from cocosnet.data.mediapipe_tools import face_part_masks
from cocosnet.makeup import FaceFinder, MakeupTransfer


def paint_layer(image: np.ndarray, finder: FaceFinder) -> np.ndarray:
    """uint8 HxWx4 straight-alpha layer: red lips, violet eyeshadow between eye and brow, soft pink blush."""
    face = finder(image, "reference")
    h, w = image.shape[:2]
    parts = face_part_masks(face.points, h, w, finder.connections)
    rgba = np.zeros((h, w, 4), np.float32)

    def paint(mask: np.ndarray, rgb, alpha: float) -> None:
        a = mask.astype(np.float32) * alpha
        rgba[..., :3] = np.where(a[..., None] > 0, rgb, rgba[..., :3])
        rgba[..., 3] = np.maximum(rgba[..., 3], a)

    paint(parts["u_lip"] | parts["l_lip"], (200, 30, 70), 0.85)
    for eye, brow in (("l_eye", "l_brow"), ("r_eye", "r_brow")):
        hull = cv2.convexHull(np.argwhere(parts[eye] | parts[brow])[:, ::-1].astype(np.int32))
        lid = np.zeros((h, w), np.uint8)
        cv2.fillConvexPoly(lid, hull, 1)
        lid = lid.astype(bool) & ~parts[eye] & ~parts[brow]
        paint(cv2.GaussianBlur(lid.astype(np.float32), (0, 0), 1.5) > 0.3, (120, 60, 170), 0.6)
    for cheek in (50, 280):  # Face Mesh cheek landmarks: a soft round blush, fading out
        blush = np.zeros((h, w), np.float32)
        cx, cy = face.points[cheek, :2]
        cv2.circle(blush, (round(cx), round(cy)), max(4, round(face.short_side * 0.09)), 1.0, -1)
        blush = cv2.GaussianBlur(blush, (0, 0), face.short_side * 0.04) * parts["skin"] * 0.45
        rgba[..., :3] = np.where((blush > rgba[..., 3])[..., None], (230, 110, 140), rgba[..., :3])
        rgba[..., 3] = np.maximum(rgba[..., 3], blush)
    return np.concatenate([rgba[..., :3], rgba[..., 3:] * 255], -1).round().astype(np.uint8)


def warped_target(image: np.ndarray) -> np.ndarray:
    """The astronaut turned 12 degrees and zoomed 1.1x: a second portrait whose true makeup position is known."""
    h, w = image.shape[:2]
    a = cv2.getRotationMatrix2D((w / 2, h / 2), 12, 1.1)
    return cv2.warpAffine(image, a, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path, help="folder for reference.png, layer.png, target.png")
    p.add_argument("--figure", type=Path, help="also write reference | layer | target | result (face crops)")
    args = p.parse_args()
    reference = data.astronaut()
    finder = FaceFinder()
    layer = paint_layer(reference, finder)
    target = warped_target(reference)
    save_image(args.out / "reference.png", reference)
    save_image(args.out / "layer.png", layer)
    save_image(args.out / "target.png", target)
    print(f"wrote {args.out / 'reference.png'}, {args.out / 'layer.png'}, {args.out / 'target.png'}")
    if args.figure:
        result = MakeupTransfer(finder=finder).transfer(reference, layer, [target])[0].image
        on_grey = (reference * 0.35 + 160).astype(np.uint8)
        a = layer[..., 3:] / 255.0
        layer_view = (on_grey * (1 - a) + layer[..., :3] * a).astype(np.uint8)
        crop = (slice(20, 276), slice(96, 352))
        tiles = [x[crop] for x in (reference, layer_view, target, result)]
        gap = np.full((256, 4, 3), 255, np.uint8)
        save_image(args.figure, np.concatenate([t for x in tiles for t in (x, gap)][:-1], 1))
        print(f"wrote {args.figure}")
    finder.close()


if __name__ == "__main__":
    main()
