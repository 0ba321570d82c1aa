"""Dense semantic encodings of the official data sets, built from their raw annotations.

* CelebA-HQ edge (15 channels): `[edges_all, 13 part distance maps, parsing edges]`.
* DeepFashion pose (20 channels): `[RGB skeleton, 17 limb distance maps]` from COCO-18 / OpenPose keypoints.
"""

from __future__ import annotations

import cv2
import numpy as np

# The 13 "inner parts" of CelebAMask-HQ in the order of the 13 distance-map channels.
CELEBA_PARTS: tuple[str, ...] = (
    "skin",
    "l_brow",
    "r_brow",
    "l_eye",
    "r_eye",
    "l_ear",
    "r_ear",
    "nose",
    "u_lip",
    "mouth",
    "l_lip",
    "eye_g",
    "hair",
)

# COCO-18 / OpenPose body keypoints.
COCO18: tuple[str, ...] = (
    "nose",
    "neck",
    "r_shoulder",
    "r_elbow",
    "r_wrist",
    "l_shoulder",
    "l_elbow",
    "l_wrist",
    "r_hip",
    "r_knee",
    "r_ankle",
    "l_hip",
    "l_knee",
    "l_ankle",
    "r_eye",
    "l_eye",
    "r_ear",
    "l_ear",
)
# OpenPose limb sequence (1-based keypoint ids); the encoding uses the first 17.
LIMB_SEQ: tuple[tuple[int, int], ...] = (
    (2, 3),
    (2, 6),
    (3, 4),
    (4, 5),
    (6, 7),
    (7, 8),
    (2, 9),
    (9, 10),
    (10, 11),
    (2, 12),
    (12, 13),
    (13, 14),
    (2, 1),
    (1, 15),
    (15, 17),
    (1, 16),
    (16, 18),
    (3, 17),
    (6, 18),
)
# OpenPose drawing colours (B, G, R: OpenPose draws on a BGR canvas).
POSE_COLORS: tuple[tuple[int, int, int], ...] = (
    (255, 0, 0),
    (255, 85, 0),
    (255, 170, 0),
    (255, 255, 0),
    (170, 255, 0),
    (85, 255, 0),
    (0, 255, 0),
    (0, 255, 85),
    (0, 255, 170),
    (0, 255, 255),
    (0, 170, 255),
    (0, 85, 255),
    (0, 0, 255),
    (85, 0, 255),
    (170, 0, 255),
    (255, 0, 255),
    (255, 0, 170),
    (255, 0, 85),
)
POSE_RADIUS = 4
POSE_STICKWIDTH = 4
NUM_LIMBS = 17


def get_edges(label: np.ndarray) -> np.ndarray:
    """Boundary of a label map: pixels whose 4-neighbour has another value (both sides marked). bool HxW."""
    t = np.asarray(label)
    e = np.zeros(t.shape, bool)
    dx = t[:, 1:] != t[:, :-1]
    dy = t[1:, :] != t[:-1, :]
    e[:, 1:] |= dx
    e[:, :-1] |= dx
    e[1:, :] |= dy
    e[:-1, :] |= dy
    return e


def distance_map(mask: np.ndarray) -> np.ndarray:
    """uint8 map of the L1 (3x3 mask) distance to the nearest set pixel of `mask`, divided by 3, clipped to
    0..255 (a mask with no set pixel gives 255 everywhere)."""
    mask = np.asarray(mask, bool)
    if not mask.any():
        return np.full(mask.shape, 255, np.uint8)
    src = np.where(mask, 0, 255).astype(np.uint8)
    d = cv2.distanceTransform(src, cv2.DIST_L1, 3)
    return np.clip(d / 3.0, 0, 255).astype(np.uint8)


def canny_edges(image: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """skimage's Canny (default sigma 1) of the grayscale image, bool HxW."""
    from skimage.feature import canny

    gray = image if image.ndim == 2 else cv2.cvtColor(np.asarray(image, np.uint8), cv2.COLOR_RGB2GRAY)
    return canny(gray.astype(np.float64) / 255.0, sigma=sigma)


def celeba_edge_encoding(
    image: np.ndarray, parts: dict[str, np.ndarray | None]
) -> tuple[np.ndarray, np.ndarray]:
    """The CelebA-HQ edge encoding at the image's size.

    `image` uint8 HxWx3, `parts` {part name: bool HxW mask or None (missing)} for the names of CELEBA_PARTS.
    Returns (binary uint8 HxWx2 = [edges_all, parsing edges], uint8 HxWx13 distance maps); the caller stacks
    them as [edges_all, 13 maps, parsing edges] after the geometric transform.
    """
    h, w = image.shape[:2]
    parsing = np.zeros((h, w), np.uint8)
    dists = np.empty((h, w, len(CELEBA_PARTS)), np.uint8)
    inner = np.ones((h, w), bool)  # outside the 12 non-hair parts: background, hair, neck, cloth...
    for i, name in enumerate(CELEBA_PARTS):
        m = parts.get(name)
        if m is None or not np.asarray(m).any():
            dists[..., i] = 255
            continue
        m = np.asarray(m, bool)
        if m.shape != (h, w):
            raise ValueError(f"part mask {name} is {m.shape}, the image {h}x{w}")
        parsing[m] = i + 1
        dists[..., i] = distance_map(get_edges(m))
        if name != "hair":
            inner &= ~m
    parse_edges = get_edges(parsing)
    edges_all = parse_edges | (canny_edges(image) & inner)
    return np.stack([edges_all, parse_edges], -1).astype(np.uint8), dists


def keypoints_to_openpose(keypoints: np.ndarray, threshold: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """COCO-18 keypoints (18 x 3: x, y, score; x or y < 0 or score <= threshold = missing) -> OpenPose
    (candidate rows [x, y, score, id], subset of one person: 18 candidate indices or -1, score, count)."""
    kp = np.asarray(keypoints, np.float64).reshape(-1, 3)
    if kp.shape[0] != 18:
        raise ValueError(f"expected 18 COCO keypoints, got {kp.shape[0]}")
    cand, sub = [], np.full(20, -1.0)
    for i, (x, y, s) in enumerate(kp):
        if x < 0 or y < 0 or s <= threshold or not np.isfinite([x, y]).all():
            continue
        sub[i] = len(cand)
        cand.append([x, y, s, len(cand)])
    sub[18] = float(sum(c[2] for c in cand))
    sub[19] = float(len(cand))
    return np.asarray(cand, np.float64).reshape(-1, 4), sub[None]


def pose_encoding(
    candidate: np.ndarray, subset: np.ndarray, height: int, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """OpenPose drawing as the official DeepFashion loader does it.

    Returns (uint8 HxWx3 RGB skeleton: r=4 keypoint discs, 17 limb ellipses of half-width 4 alpha-blended
    0.4/0.6; uint8 HxWx17 limb distance maps: L1 distance to the limb's ellipse / 3, clipped; 255 if absent).
    """
    candidate = np.asarray(candidate, np.float64).reshape(-1, 4) if np.size(candidate) else np.zeros((0, 4))
    subset = np.asarray(subset, np.float64).reshape(-1, 20) if np.size(subset) else np.zeros((0, 20))
    canvas = np.zeros((height, width, 3), np.uint8)
    for i in range(18):
        for person in subset:
            idx = int(person[i])
            if idx == -1:
                continue
            x, y = candidate[idx, 0:2]
            cv2.circle(canvas, (int(x), int(y)), POSE_RADIUS, POSE_COLORS[i], thickness=-1)
    limbs = np.zeros((height, width, NUM_LIMBS), bool)
    for i in range(NUM_LIMBS):
        for person in subset:
            index = person[np.array(LIMB_SEQ[i]) - 1].astype(int)
            if -1 in index:
                continue
            cur = canvas.copy()
            ys = candidate[index, 0]  # OpenPose's naming: "Y" holds x coordinates
            xs = candidate[index, 1]
            mx, my = xs.mean(), ys.mean()
            length = float(np.hypot(xs[0] - xs[1], ys[0] - ys[1]))
            angle = float(np.degrees(np.arctan2(xs[0] - xs[1], ys[0] - ys[1])))
            poly = cv2.ellipse2Poly(
                (int(my), int(mx)), (int(length / 2), POSE_STICKWIDTH), int(angle), 0, 360, 1
            )
            cv2.fillConvexPoly(cur, poly, POSE_COLORS[i])
            canvas = cv2.addWeighted(canvas, 0.4, cur, 0.6, 0)
            m = np.zeros((height, width), np.uint8)
            cv2.fillConvexPoly(m, poly, 255)
            limbs[..., i] |= m > 0
    dists = np.stack([distance_map(limbs[..., i]) for i in range(NUM_LIMBS)], -1)
    return canvas[..., ::-1].copy(), dists


def read_openpose_txt(candidate_path, subset_path) -> tuple[np.ndarray, np.ndarray]:
    """`<img>_candidate.txt` (rows x y score id) and `<img>_subset.txt` (rows of 18 indices, score, count)."""
    cand = np.loadtxt(candidate_path, ndmin=2) if _nonempty(candidate_path) else np.zeros((0, 4))
    sub = np.loadtxt(subset_path, ndmin=2) if _nonempty(subset_path) else np.zeros((0, 20))
    if cand.size and cand.shape[1] < 2:
        raise ValueError(f"{candidate_path}: candidate rows must be 'x y score id'")
    if sub.size and sub.shape[1] < 18:
        raise ValueError(f"{subset_path}: subset rows must hold 18 candidate indices (+ score, count)")
    if sub.size and sub.shape[1] < 20:
        sub = np.concatenate([sub, np.zeros((sub.shape[0], 20 - sub.shape[1]))], 1)
    if cand.size and cand.shape[1] < 4:
        cand = np.concatenate([cand, np.zeros((cand.shape[0], 4 - cand.shape[1]))], 1)
    if sub.size and (sub[:, :18].max() >= len(cand)):
        raise ValueError(f"{subset_path}: a subset index points past the {len(cand)} candidates")
    return cand, sub


def _nonempty(path) -> bool:
    with open(path, encoding="utf-8") as f:
        return bool(f.read().strip())
