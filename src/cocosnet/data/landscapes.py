"""Procedural outdoor scenes with the painter's nine classes, and their answer key.

A scene is two independent draws: a `Layout` (the label map: where sky, mountains, sea, lakes, grass, trees,
roads, sand and rocks are) from a layout seed, and a `Style` (palettes, textures, light, time of day) from a
style seed. `render(layout, style, seed)` paints one with the other. Because texture noise depends only on
`seed` (by default the layout's seed), `render(A, style_B)` is exactly the picture of layout A that has the
look of an exemplar rendered in style B: the ideal output of an exemplar-based translation (the "oracle").

Everything is vectorised numpy + OpenCV resizes of small random grids, so layouts are (nearly) resolution
independent: the same seed at 64 and at 512 pixels gives the same scene. Class 0 ("unlabeled") is never drawn.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from cocosnet.presets import LANDSCAPE_CLASSES

UNLABELED, ROAD, ROCK, WATER, SAND, SEA, SKY, GRASS, MOUNTAIN, TREE = range(10)
NUM_CLASSES = len(LANDSCAPE_CLASSES)
FAMILIES: tuple[str, ...] = ("day", "sunset", "night", "overcast", "autumn", "winter", "desert")
SCENE_KINDS: tuple[str, ...] = ("coast", "lake", "meadow", "valley", "forest", "desert")
_SCENE_P = (0.2, 0.18, 0.2, 0.16, 0.12, 0.14)

# Seed ranges of the splits: a split's layouts (and the styles drawn for them) never meet another split's.
SPLIT_SEED_BASE: dict[str, int] = {"train": 0, "val": 1_000_000_000, "test": 2_000_000_000}
SPLIT_SEED_SPAN = 1_000_000_000

cv2.setNumThreads(1)


def _hw(size: int | tuple[int, int]) -> tuple[int, int]:
    h, w = (size, size) if isinstance(size, int | np.integer) else (int(size[0]), int(size[1]))
    if not (16 <= h <= 2048 and 16 <= w <= 2048):
        raise ValueError(f"landscape size must be 16..2048 pixels, got {h}x{w}")
    return int(h), int(w)


def _noise2d(rng: np.random.Generator, h: int, w: int, cy: int, cx: int) -> np.ndarray:
    """Smooth value noise (std about 1) with `cy` x `cx` cells, resampled to h x w (resolution
    independent).
    """
    grid = rng.standard_normal((cy + 1, cx + 1)).astype(np.float32)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC) * 1.25


def _fbm(
    rng: np.random.Generator, h: int, w: int, cells: int, octaves: int, aspect: float = 1.0
) -> np.ndarray:
    out = np.zeros((h, w), np.float32)
    norm = 0.0
    for k in range(octaves):
        amp = 0.5**k
        c = cells * 2**k
        out += amp * _noise2d(rng, h, w, max(1, round(c * aspect)), c)
        norm += amp * amp
    return out / np.float32(np.sqrt(norm))


def _noise1d(rng: np.random.Generator, n: int, cells: int) -> np.ndarray:
    grid = rng.standard_normal((1, cells + 1)).astype(np.float32)
    return cv2.resize(grid, (n, 1), interpolation=cv2.INTER_CUBIC)[0] * 1.25


def _fbm1d(rng: np.random.Generator, n: int, cells: int, octaves: int) -> np.ndarray:
    out = np.zeros(n, np.float32)
    norm = 0.0
    for k in range(octaves):
        amp = 0.5**k
        out += amp * _noise1d(rng, n, cells * 2**k)
        norm += amp * amp
    return out / np.float32(np.sqrt(norm))


# ----------------------------------------------------------------------------------------------------- layout


@dataclass(eq=False)
class Layout:
    """A label map (uint8 HxW, ids 0..9 of `LANDSCAPE_CLASSES`) and how it was made."""

    labels: np.ndarray
    seed: int
    kind: str = "custom"
    horizon: float = 0.45  # fraction of the height

    @property
    def size(self) -> tuple[int, int]:
        return self.labels.shape[0], self.labels.shape[1]

    def histogram(self) -> np.ndarray:
        return label_histogram(self.labels)


def label_histogram(labels: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Fraction of pixels of each class (float64, sums to 1)."""
    h = np.bincount(np.asarray(labels).ravel(), minlength=num_classes)[:num_classes].astype(np.float64)
    return h / max(h.sum(), 1.0)


class _Canvas:
    """Label map under construction, with normalised pixel-centre coordinates."""

    def __init__(self, h: int, w: int):
        self.h, self.w = h, w
        self.lab = np.full((h, w), SKY, np.uint8)
        self.x = ((np.arange(w, dtype=np.float32) + 0.5) / w)[None, :]
        self.y = ((np.arange(h, dtype=np.float32) + 0.5) / h)[:, None]

    def rows(self, y0: float, y1: float) -> slice:
        return slice(max(0, int(np.floor(y0 * self.h))), min(self.h, int(np.ceil(y1 * self.h)) + 1))

    def cols(self, x0: float, x1: float) -> slice:
        return slice(max(0, int(np.floor(x0 * self.w))), min(self.w, int(np.ceil(x1 * self.w)) + 1))

    def below(self, top: np.ndarray, cls: int, bottom: float | np.ndarray = 2.0) -> None:
        """Class `cls` between the curve `top(x)` and `bottom` (both fractions of the height)."""
        self.lab[(self.y >= top[None, :]) & (self.y < bottom)] = cls

    def blob(
        self,
        cls: int,
        cx: float,
        cy: float,
        rx: float,
        ry: float,
        noise: np.ndarray,
        amp: float,
        where: np.ndarray | None = None,
        flat_bottom: bool = False,
    ) -> None:
        rs, cs = self.rows(cy - ry * 1.6, cy + ry * 1.6), self.cols(cx - rx * 1.6, cx + rx * 1.6)
        if rs.start >= rs.stop or cs.start >= cs.stop:
            return
        dx = (self.x[:, cs] - cx) / rx
        dy = (self.y[rs] - cy) / ry
        if flat_bottom:
            dy = np.where(dy > 0, dy * 2.2, dy)
        m = dx * dx + dy * dy + amp * noise[rs, cs] < 1.0
        if where is not None:
            m &= where[rs, cs]
        self.lab[rs, cs][m] = cls


def make_layout(seed: int, size: int | tuple[int, int] = 256, kind: str | None = None) -> Layout:
    """A plausible outdoor label map from `seed` (deterministic; about the same scene at any size).

    Sky everywhere, then far to near: mountains on the horizon, the ground, then what the scene kind puts on it.
    """
    h, w = _hw(size)
    seed = int(seed)
    rng = np.random.default_rng([seed, 0x1A7])
    kind = _scene_kind(rng, kind)
    sketch = _Sketch(rng, _Canvas(h, w))
    sketch.far_mountains(_P_MOUNTAIN[kind], steep=kind == "valley")
    sketch.ground(_GROUND.get(kind, GRASS))
    if kind == "coast":
        _coast(sketch)
    elif kind == "desert":
        _desert(sketch)
    else:
        _inland(sketch, kind)
    return Layout(sketch.cv.lab, seed, kind, sketch.hz)


def _scene_kind(rng: np.random.Generator, kind: str | None) -> str:
    """The given kind, or the one drawn (drawn either way, so a seed's other draws do not depend on `kind`)."""
    picked = SCENE_KINDS[int(rng.choice(len(SCENE_KINDS), p=_SCENE_P))]
    kind = kind or picked
    if kind not in SCENE_KINDS:
        raise ValueError(f"unknown scene kind {kind!r}; choose one of {', '.join(SCENE_KINDS)}")
    return kind


_P_MOUNTAIN = {"coast": 0.4, "lake": 0.8, "meadow": 0.5, "valley": 1.0, "forest": 0.45, "desert": 0.55}
_GROUND = {"coast": SEA, "desert": SAND}
_P_TREELINE = {"lake": 0.7, "meadow": 0.5, "valley": 0.5, "forest": 1.0}
_P_ROAD = {"lake": 0.3, "meadow": 0.6, "valley": 0.45, "forest": 0.5}
_TREE_CLUSTERS = {"lake": (0, 4), "meadow": (1, 5), "valley": (0, 4), "forest": (3, 8)}


class _Sketch:
    """A layout being drawn: the canvas, the horizon `hz`, two shared noise fields (fixed cell counts, so the scene
    does not depend on the pixel size) and the drawing elements, all drawing from one random stream."""

    def __init__(self, rng: np.random.Generator, cv: _Canvas):
        self.rng, self.cv = rng, cv
        self.h, self.w = cv.h, cv.w
        self.hz = float(rng.uniform(0.3, 0.6))
        self.coarse = _fbm(rng, cv.h, cv.w, 3, 3)
        self.fine = _fbm(rng, cv.h, cv.w, 12, 2)
        self.x = cv.x[0]

    def depth(self) -> np.ndarray:
        """0 at the horizon, 1 at the bottom (per row)."""
        return np.clip((self.cv.y - self.hz) / (1 - self.hz), 0, 1)

    def ridge(self, amp: float, rough: float) -> np.ndarray:
        rng, w = self.rng, self.w
        n = 0.65 * _noise1d(rng, w, 2) + 0.3 * _noise1d(rng, w, 6) + rough * _fbm1d(rng, w, 18, 2)
        peak = 1.0 - np.abs(_noise1d(rng, w, 3)) * 0.5  # sharpened crests
        prof = np.clip(0.45 + 0.25 * n, 0.05, 1.0) * peak
        return self.hz - amp * prof

    def far_mountains(self, p: float, steep: bool) -> None:
        rng = self.rng
        if rng.random() < p:
            amp = rng.uniform(0.2, 0.4) if steep else rng.uniform(0.08, 0.3)
            self.cv.below(self.ridge(amp * self.hz / 0.45, rng.uniform(0.05, 0.25)), MOUNTAIN, self.hz)

    def ground(self, cls: int) -> None:
        self.cv.lab[self.cv.y[:, 0] >= self.hz] = cls

    def treeline(self, height: float, conifer: bool, coverage: float) -> None:
        rng, cv, w = self.rng, self.cv, self.w
        base = self.hz + 0.012
        if conifer:
            k = rng.uniform(18, 40)
            phase = rng.uniform(0, 1)
            tri = 1.0 - 2.0 * np.abs(((self.x * k + phase) % 1.0) - 0.5)
            top = base - height * (0.35 + 0.65 * tri * (0.7 + 0.3 * _noise1d(rng, w, 8)))
        else:
            top = base - height * np.clip(0.6 + 0.3 * _fbm1d(rng, w, 10, 3), 0.1, 1.2)
        seg = _noise1d(rng, w, 5) + 2.0 * (coverage - 0.5)
        top = np.where(seg > 0, top, 3.0)
        cv.lab[(cv.y >= top[None, :]) & (cv.y < base) & (cv.lab != SEA)] = TREE

    def clusters(self, n: int, big: float = 1.0, y_range: tuple[float, float] = (0.04, 0.8)) -> None:
        """`n` groups of round trees with trunks, larger closer to the viewer."""
        rng, cv, hz, fine = self.rng, self.cv, self.hz, self.fine
        for _ in range(n):
            t = rng.uniform(*y_range)
            cy = hz + t * (1 - hz)
            cx = rng.uniform(-0.05, 1.05)
            s = (0.25 + 1.3 * t) * big
            r = rng.uniform(0.025, 0.05) * s
            for _ in range(int(rng.integers(2, 7))):
                px = cx + rng.uniform(-2.0, 2.0) * r
                py = cy - r * rng.uniform(0.7, 1.8)
                pr = r * rng.uniform(0.7, 1.25)
                cv.blob(TREE, px, py, pr, pr * rng.uniform(1.0, 1.5), fine, 0.35)
                cv.blob(TREE, px, cy - 0.2 * r, 0.18 * r, 0.9 * r, fine, 0.0)  # trunk

    def rocks(self, n: int, y_range: tuple[float, float], ground: np.ndarray | None, size: float = 1.0) -> None:
        rng, hz = self.rng, self.hz
        for _ in range(n):
            t = rng.uniform(*y_range)
            cy = hz + t * (1 - hz)
            rx = rng.uniform(0.02, 0.06) * (0.3 + 1.2 * t) * size
            self.cv.blob(ROCK, rng.uniform(0, 1), cy, rx, rx * rng.uniform(0.45, 0.8), self.coarse, 0.6,
                         where=ground, flat_bottom=True)

    def road(self, ground: np.ndarray) -> None:
        """A road from a vanishing point on the horizon to the bottom edge, widening with depth."""
        rng, cv, hz = self.rng, self.cv, self.hz
        vx = rng.uniform(0.25, 0.75)
        bx = rng.uniform(0.15, 0.85)
        w0 = rng.uniform(0.12, 0.32)
        curve = rng.uniform(-0.25, 0.25)
        t = self.depth()
        centre = vx + (bx - vx) * t + curve * np.sin(np.pi * t) * (1 - t)
        half = w0 * t * (1 + 0.05 * self.fine) + 0.002
        cv.lab[(np.abs(cv.x - centre) < half) & (cv.y > hz + 0.004) & ground] = ROAD

    def lake(self) -> None:
        rng, cv, hz = self.rng, self.cv, self.hz
        t = rng.uniform(0.1, 0.45)
        cy = hz + t * (1 - hz)
        rx = rng.uniform(0.18, 0.5)
        ry = rx * rng.uniform(0.12, 0.3) * (0.6 + t)
        cv.blob(WATER, rng.uniform(0.2, 0.8), cy, rx, ry, self.coarse, 0.35,
                where=np.broadcast_to(cv.y > hz + 0.006, (self.h, self.w)))

    def river(self) -> None:
        """A meandering river that widens towards the viewer."""
        rng, cv, hz = self.rng, self.cv, self.hz
        x0, x1 = rng.uniform(0.3, 0.7), rng.uniform(0.0, 1.0)
        amp, f, ph = rng.uniform(0.05, 0.2), rng.uniform(0.6, 1.6), rng.uniform(0, 2 * np.pi)
        t = self.depth()
        c = x0 + (x1 - x0) * t + amp * np.sin(2 * np.pi * f * t + ph) * t
        half = rng.uniform(0.04, 0.12) * (0.05 + t) * (1 + 0.15 * self.coarse)
        cv.lab[(np.abs(cv.x - c) < half) & (cv.y > hz + 0.004)] = WATER


def _coast(s: _Sketch) -> None:
    """Sea to a wavy shore, a beach, maybe grass with trees behind it, a headland, rocks along the shore."""
    rng, cv, hz, x, w = s.rng, s.cv, s.hz, s.x, s.w
    shore = hz + rng.uniform(0.15, 0.5) * (1 - hz) + rng.uniform(-0.25, 0.25) * (x - 0.5) + 0.04 * _fbm1d(rng, w, 4, 3)
    cv.below(shore, SAND)
    if rng.random() < 0.5:
        cv.below(shore + rng.uniform(0.08, 0.25) + 0.05 * _fbm1d(rng, w, 3, 3), GRASS)
        if rng.random() < 0.6:
            s.clusters(int(rng.integers(1, 4)), y_range=(0.6, 0.95))
    if rng.random() < 0.4:  # a headland / cliff at one side
        left = rng.random() < 0.5
        xe = rng.uniform(0.15, 0.4)
        u = np.clip((xe - x) / xe if left else (x - (1 - xe)) / xe, 0, 1)
        top = hz - rng.uniform(0.05, 0.18) * np.sqrt(u) * (1 + 0.15 * _fbm1d(rng, w, 10, 2))
        top = np.where(u > 0, top, 3.0)
        cv.below(top, ROCK, shore[None, :] + 0.02)
    if rng.random() < 0.7:
        ts = np.clip((shore - hz) / (1 - hz), 0, 1)
        for _ in range(int(rng.integers(1, 5))):
            i = int(rng.integers(0, w))
            rx = rng.uniform(0.02, 0.05) * (0.3 + 1.2 * ts[i])
            cv.blob(ROCK, x[i], shore[i], rx, rx * 0.6, s.coarse, 0.6, flat_bottom=True)


def _desert(s: _Sketch) -> None:
    """Mesas on the horizon, maybe a road, rocks and a few trees on the sand."""
    rng, cv, hz, x, w = s.rng, s.cv, s.hz, s.x, s.w
    for _ in range(int(rng.integers(0, 4))):  # mesas on the horizon
        cx, a, hh = rng.uniform(0, 1), rng.uniform(0.05, 0.2), rng.uniform(0.04, 0.15)
        shape = np.clip((a - np.abs(x - cx)) / (0.3 * a), 0, 1)
        top = np.where(shape > 0, hz - hh * shape * (1 + 0.05 * _noise1d(rng, w, 12)), 3.0)
        cv.below(top, ROCK, hz + 0.01)
    if rng.random() < 0.5:
        s.road(cv.lab == SAND)
    s.rocks(int(rng.integers(0, 6)), (0.05, 0.9), cv.lab == SAND)
    if rng.random() < 0.25:
        s.clusters(int(rng.integers(1, 3)), big=0.6, y_range=(0.1, 0.7))


def _inland(s: _Sketch, kind: str) -> None:
    """Lake, meadow, valley or forest: water, a treeline, a road, tree clusters and rocks on grass."""
    rng, cv = s.rng, s.cv
    if kind == "lake" or (kind in ("meadow", "valley") and rng.random() < 0.25):
        s.lake()
    if kind == "valley" and rng.random() < 0.6:
        s.river()
    elif kind == "meadow" and rng.random() < 0.2:
        s.river()
    if rng.random() < _P_TREELINE[kind]:
        conifer = kind == "forest" or rng.random() < 0.35
        height = rng.uniform(0.05, 0.16) * (1.5 if kind == "forest" else 1.0)
        s.treeline(height, conifer, 0.9 if kind == "forest" else rng.uniform(0.3, 0.8))
    if rng.random() < _P_ROAD[kind]:
        s.road(cv.lab == GRASS)
    s.clusters(int(rng.integers(*_TREE_CLUSTERS[kind])))
    if rng.random() < 0.4:
        s.rocks(int(rng.integers(1, 4)), (0.1, 0.9), (cv.lab == GRASS) | (cv.lab == WATER))


# ------------------------------------------------------------------------------------------------------ style


def _c(*rgb: float) -> np.ndarray:
    return np.array(rgb, np.float32)


# Per family: two colours (shadow, light) per class, indices as LANDSCAPE_CLASSES.
_DAY_PALETTE = {
    UNLABELED: (_c(0, 0, 0), _c(0.1, 0.1, 0.1)),
    ROAD: (_c(0.2, 0.2, 0.21), _c(0.4, 0.39, 0.38)),
    ROCK: (_c(0.3, 0.28, 0.26), _c(0.62, 0.59, 0.54)),
    WATER: (_c(0.08, 0.28, 0.38), _c(0.2, 0.45, 0.55)),
    SAND: (_c(0.72, 0.62, 0.42), _c(0.92, 0.84, 0.64)),
    SEA: (_c(0.04, 0.2, 0.42), _c(0.12, 0.36, 0.6)),
    SKY: (_c(0.25, 0.5, 0.88), _c(0.72, 0.86, 0.97)),
    GRASS: (_c(0.2, 0.42, 0.1), _c(0.48, 0.68, 0.24)),
    MOUNTAIN: (_c(0.3, 0.33, 0.4), _c(0.55, 0.58, 0.66)),
    TREE: (_c(0.05, 0.2, 0.06), _c(0.2, 0.42, 0.14)),
}
_FAMILY_OVERRIDES: dict[str, dict[int, tuple[np.ndarray, np.ndarray]]] = {
    "day": {},
    "sunset": {
        SKY: (_c(0.18, 0.16, 0.42), _c(1.0, 0.55, 0.25)),
        MOUNTAIN: (_c(0.2, 0.14, 0.25), _c(0.42, 0.28, 0.38)),
        SEA: (_c(0.1, 0.1, 0.25), _c(0.35, 0.22, 0.3)),
        WATER: (_c(0.12, 0.12, 0.25), _c(0.35, 0.25, 0.3)),
    },
    "night": {
        SKY: (_c(0.005, 0.01, 0.05), _c(0.05, 0.08, 0.2)),
        MOUNTAIN: (_c(0.05, 0.06, 0.1), _c(0.15, 0.17, 0.25)),
    },
    "overcast": {
        SKY: (_c(0.5, 0.52, 0.56), _c(0.78, 0.79, 0.8)),
        SEA: (_c(0.12, 0.2, 0.25), _c(0.3, 0.36, 0.4)),
        MOUNTAIN: (_c(0.35, 0.37, 0.4), _c(0.55, 0.56, 0.58)),
    },
    "autumn": {
        TREE: (_c(0.45, 0.14, 0.03), _c(0.95, 0.6, 0.12)),
        GRASS: (_c(0.4, 0.38, 0.14), _c(0.68, 0.6, 0.28)),
        SKY: (_c(0.35, 0.55, 0.85), _c(0.8, 0.87, 0.95)),
    },
    "winter": {
        GRASS: (_c(0.78, 0.82, 0.9), _c(0.97, 0.98, 1.0)),
        SAND: (_c(0.75, 0.77, 0.82), _c(0.92, 0.93, 0.96)),
        TREE: (_c(0.04, 0.12, 0.1), _c(0.35, 0.42, 0.42)),
        MOUNTAIN: (_c(0.45, 0.5, 0.6), _c(0.85, 0.88, 0.95)),
        WATER: (_c(0.1, 0.18, 0.28), _c(0.3, 0.4, 0.5)),
        SEA: (_c(0.06, 0.14, 0.25), _c(0.22, 0.32, 0.45)),
        SKY: (_c(0.5, 0.62, 0.8), _c(0.85, 0.9, 0.96)),
        ROCK: (_c(0.3, 0.3, 0.32), _c(0.6, 0.6, 0.64)),
    },
    "desert": {
        SAND: (_c(0.72, 0.45, 0.22), _c(0.95, 0.74, 0.48)),
        ROCK: (_c(0.45, 0.2, 0.12), _c(0.78, 0.45, 0.28)),
        MOUNTAIN: (_c(0.55, 0.38, 0.3), _c(0.82, 0.62, 0.48)),
        GRASS: (_c(0.5, 0.45, 0.22), _c(0.72, 0.66, 0.38)),
        TREE: (_c(0.2, 0.25, 0.1), _c(0.42, 0.45, 0.2)),
        SKY: (_c(0.45, 0.62, 0.85), _c(0.92, 0.88, 0.78)),
        ROAD: (_c(0.32, 0.28, 0.25), _c(0.5, 0.45, 0.4)),
    },
}
# family -> (light tint, brightness, haze strength, cloud cover range, sun height range, stars, snow)
_FAMILY_LIGHT: dict[str, dict[str, Any]] = {
    "day": dict(
        tint=(1.0, 1.0, 0.98),
        bright=(0.95, 1.08),
        haze=(0.15, 0.4),
        clouds=(0.0, 0.45),
        sun=(0.05, 0.3),
        sun_strength=(0.0, 0.25),
        stars=0.0,
        snow=(0.0, 0.0),
    ),
    "sunset": dict(
        tint=(1.0, 0.8, 0.62),
        bright=(0.75, 0.92),
        haze=(0.3, 0.6),
        clouds=(0.1, 0.5),
        sun=(0.75, 0.98),
        sun_strength=(0.7, 1.0),
        stars=0.0,
        snow=(0.0, 0.0),
    ),
    "night": dict(
        tint=(0.6, 0.7, 1.0),
        bright=(0.45, 0.6),
        haze=(0.05, 0.2),
        clouds=(0.0, 0.3),
        sun=(0.1, 0.4),
        sun_strength=(0.3, 0.5),
        stars=1.0,
        snow=(0.0, 0.0),
    ),
    "overcast": dict(
        tint=(0.95, 0.97, 1.0),
        bright=(0.75, 0.88),
        haze=(0.35, 0.6),
        clouds=(0.7, 1.0),
        sun=(0.1, 0.4),
        sun_strength=(0.0, 0.0),
        stars=0.0,
        snow=(0.0, 0.0),
    ),
    "autumn": dict(
        tint=(1.0, 0.95, 0.85),
        bright=(0.9, 1.0),
        haze=(0.2, 0.45),
        clouds=(0.1, 0.6),
        sun=(0.2, 0.5),
        sun_strength=(0.0, 0.3),
        stars=0.0,
        snow=(0.0, 0.0),
    ),
    "winter": dict(
        tint=(0.92, 0.96, 1.05),
        bright=(0.9, 1.05),
        haze=(0.3, 0.55),
        clouds=(0.2, 0.8),
        sun=(0.3, 0.6),
        sun_strength=(0.0, 0.2),
        stars=0.0,
        snow=(0.5, 1.0),
    ),
    "desert": dict(
        tint=(1.05, 0.98, 0.88),
        bright=(1.0, 1.1),
        haze=(0.3, 0.55),
        clouds=(0.0, 0.2),
        sun=(0.05, 0.3),
        sun_strength=(0.1, 0.35),
        stars=0.0,
        snow=(0.0, 0.0),
    ),
}
_DESATURATE = {"overcast": 0.45, "night": 0.3, "winter": 0.15}


@dataclass(eq=False)
class Style:
    """How a layout is painted: palettes, textures, light and time of day of one `family`."""

    family: str
    seed: int
    palette: np.ndarray  # (10, 2, 3) float32 in [0,1]: shadow and light colour of each class
    texture: np.ndarray  # (10, 3) float32: coarse-noise, fine-noise and streak contrast of each class
    light: np.ndarray  # (3,) tint times brightness
    haze: float
    haze_color: np.ndarray  # (3,)
    clouds: float  # cover 0..1
    cloud_color: np.ndarray  # (3,)
    sun: tuple[float, float]  # x, y (y as a fraction of the sky height: 1 = at the horizon)
    sun_strength: float
    sun_color: np.ndarray  # (3,)
    stars: float
    snow: float  # 0..1: snow caps on mountains and dusting on trees/rocks
    water_reflect: float
    desaturate: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = v.tolist() if isinstance(v, np.ndarray) else v
        return out


def make_style(seed: int, family: str | None = None) -> Style:
    """A style from `seed`; the family (day, sunset, night, overcast, autumn, winter, desert) is drawn unless
    given.
    """
    seed = int(seed)
    rng = np.random.default_rng([seed, 0x57E])
    drawn = FAMILIES[int(rng.integers(len(FAMILIES)))]
    family = family or drawn
    if family not in FAMILIES:
        raise ValueError(f"unknown style family {family!r}; choose one of {', '.join(FAMILIES)}")
    pal = np.zeros((NUM_CLASSES, 2, 3), np.float32)
    over = _FAMILY_OVERRIDES[family]
    for cls in range(NUM_CLASSES):
        a, b = over.get(cls, _DAY_PALETTE[cls])
        # Per-style jitter of hue/brightness, the same small shift for both ends of a class.
        shift = rng.normal(0, 0.035, 3).astype(np.float32) + rng.normal(0, 0.04)
        pal[cls, 0] = np.clip(a + shift * 0.7, 0, 1)
        pal[cls, 1] = np.clip(b + shift, 0, 1)
    tex = np.zeros((NUM_CLASSES, 3), np.float32)
    base_tex = {
        ROAD: (0.25, 0.35, 0.1),
        ROCK: (0.6, 0.55, 0.0),
        WATER: (0.25, 0.1, 0.5),
        SAND: (0.4, 0.3, 0.25),
        SEA: (0.2, 0.1, 0.6),
        SKY: (0.0, 0.0, 0.0),
        GRASS: (0.5, 0.55, 0.1),
        MOUNTAIN: (0.6, 0.3, 0.0),
        TREE: (0.35, 0.8, 0.0),
        UNLABELED: (0.0, 0.0, 0.0),
    }
    for cls, v in base_tex.items():
        tex[cls] = np.array(v, np.float32) * rng.uniform(0.7, 1.3, 3).astype(np.float32)
    L = _FAMILY_LIGHT[family]
    bright = rng.uniform(*L["bright"])
    light = np.array(L["tint"], np.float32) * np.float32(bright)
    sky_b = pal[SKY, 1]
    haze_color = np.clip(0.6 * sky_b + 0.4 * np.array(L["tint"], np.float32) * sky_b.mean(), 0, 1)
    cloud_gray = {"night": 0.12, "overcast": 0.68, "sunset": 0.55}.get(family, 0.95)
    cloud_color = np.clip(np.float32(cloud_gray) * np.array(L["tint"], np.float32), 0, 1)
    if family == "sunset":
        cloud_color = np.clip(cloud_color * _c(1.0, 0.75, 0.7) + _c(0.25, 0.05, 0.1), 0, 1)
    sun_color = {"sunset": _c(1.0, 0.75, 0.35), "night": _c(0.9, 0.92, 1.0)}.get(family, _c(1.0, 0.97, 0.85))
    return Style(
        family=family,
        seed=seed,
        palette=pal,
        texture=tex,
        light=light,
        haze=float(rng.uniform(*L["haze"])),
        haze_color=haze_color.astype(np.float32),
        clouds=float(rng.uniform(*L["clouds"])),
        cloud_color=cloud_color.astype(np.float32),
        sun=(float(rng.uniform(0.1, 0.9)), float(rng.uniform(*L["sun"]))),
        sun_strength=float(rng.uniform(*L["sun_strength"])),
        sun_color=sun_color,
        stars=float(L["stars"]),
        snow=float(rng.uniform(*L["snow"])),
        water_reflect=float(rng.uniform(0.35, 0.65)),
        desaturate=_DESATURATE.get(family, 0.0),
    )


# ----------------------------------------------------------------------------------------------------- render


def estimate_horizon(labels: np.ndarray) -> float:
    """Horizon of a label map (fraction of the height): the lowest row that is still mostly sky/mountain."""
    up = np.isin(labels, (SKY, MOUNTAIN)).mean(axis=1)
    rows = np.nonzero(up >= 0.5)[0]
    if len(rows) == 0:
        return 0.05
    return float(min(0.95, (rows.max() + 1) / labels.shape[0]))


def _smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) / (e1 - e0), 0, 1)
    return t * t * (3 - 2 * t)


def render(layout: Layout | np.ndarray, style: Style, seed: int | None = None) -> np.ndarray:
    """Paint `layout` (a Layout or a uint8 label map) in `style`: uint8 HxWx3, deterministic.

    Texture noise depends only on `seed` (default: the layout's seed, or 0 for a bare array), so rendering the
    same layout in two styles gives two pictures of the same place. Painted in layers: textured class colours,
    sky, water, relief, trees, road markings, then light and air over everything.
    """
    lab, hz, seed = _label_map(layout, seed)
    f = _Frame.of(lab, hz, np.random.default_rng([int(seed), 0x9E1]))
    img = _textured_colours(f, style)
    img, sky = _paint_sky(img, f, style)
    img = _paint_water(img, f, style, sky)
    img = _shade_relief(img, f, style)
    img = _shade_trees(img, f, style)
    img = _paint_road_line(img, f)
    img = _light_and_air(img, f, style)
    return _finish(img, f.grain)


def _label_map(layout: Layout | np.ndarray, seed: int | None) -> tuple[np.ndarray, float, int]:
    """(uint8 label map, horizon, texture seed) of a Layout or a bare label map, with the ids checked."""
    if isinstance(layout, Layout):
        lab, hz = layout.labels, layout.horizon
        seed = layout.seed if seed is None else seed
    else:
        lab = np.asarray(layout)
        if lab.ndim != 2:
            raise ValueError(f"a label map must be HxW, got shape {lab.shape}")
        hz = estimate_horizon(lab)
        seed = 0 if seed is None else seed
    if lab.dtype != np.uint8:
        if lab.size and (lab.min() < 0 or lab.max() >= NUM_CLASSES):
            raise ValueError(f"landscape label ids must be 0..{NUM_CLASSES - 1}")
        lab = lab.astype(np.uint8)
    elif lab.size and lab.max() >= NUM_CLASSES:
        raise ValueError(f"landscape label ids must be 0..{NUM_CLASSES - 1}, got {int(lab.max())}")
    return lab, hz, seed


@dataclass(eq=False)
class _Frame:
    """What every layer of a render reads: the label map, the horizon, pixel-centre coordinates, depth below the
    horizon and the texture noise fields (drawn from the render seed in a fixed order)."""

    lab: np.ndarray
    hz: float
    yy: np.ndarray  # (h, 1)
    xx: np.ndarray  # (1, w)
    depth: np.ndarray  # (h, 1): 0 at the horizon, 1 at the bottom
    coarse: np.ndarray
    fine: np.ndarray
    streak: np.ndarray  # horizontal streaks (water, clouds)
    cloud: np.ndarray
    grain: np.ndarray

    @classmethod
    def of(cls, lab: np.ndarray, hz: float, rng: np.random.Generator) -> _Frame:
        h, w = lab.shape
        yy = ((np.arange(h, dtype=np.float32) + 0.5) / h)[:, None]
        xx = ((np.arange(w, dtype=np.float32) + 0.5) / w)[None, :]
        coarse = _fbm(rng, h, w, 4, 3)
        fine = _fbm(rng, h, w, 24, 2)
        streak = _fbm(rng, h, w, 3, 2, aspect=12.0)
        cloud = _fbm(rng, h, w, 3, 3, aspect=1.6)
        grain = _noise2d(rng, h, w, min(h, 256) - 1, min(w, 256) - 1)
        depth = np.clip((yy - hz) / max(1.0 - hz, 1e-3), 0.0, 1.0)
        return cls(lab, hz, yy, xx, depth, coarse, fine, streak, cloud, grain)

    @property
    def h(self) -> int:
        return self.lab.shape[0]

    @property
    def w(self) -> int:
        return self.lab.shape[1]


def _textured_colours(f: _Frame, style: Style) -> np.ndarray:
    """Each class between its shadow and light colour, by its noise texture and a little by depth."""
    tex = style.texture[f.lab]  # (h, w, 3)
    t = 0.5 + 0.25 * (tex[..., 0] * f.coarse + tex[..., 1] * f.fine + tex[..., 2] * f.streak)
    t = np.clip(t + 0.15 * (f.depth - 0.5) * (f.lab != SKY), 0, 1)
    pal = style.palette[f.lab]  # (h, w, 2, 3)
    return pal[..., 0, :] + (pal[..., 1, :] - pal[..., 0, :]) * t[..., None]


def _paint_sky(img: np.ndarray, f: _Frame, style: Style) -> tuple[np.ndarray, np.ndarray]:
    """Gradient from the zenith to the horizon, sun glow and disc, clouds, stars. Returns the image and the sky
    of the rows down to the horizon (the water mirrors it)."""
    h, w, hz, yy, xx = f.h, f.w, f.hz, f.yy, f.xx
    top, bottom = style.palette[SKY, 0], style.palette[SKY, 1]
    is_sky = f.lab == SKY
    sky_rows = np.nonzero(is_sky.any(1))[0]
    r = min(h, max(int(sky_rows[-1]) + 1 if len(sky_rows) else 0, int(np.ceil(hz * h)) + 1))
    ys = yy[:r]
    s = np.clip(ys / max(hz, 0.05), 0, 1) ** 1.4
    sky = top + (bottom - top) * s[..., None]  # (r, 1, 3)
    sx, sy = style.sun
    sun_y = sy * hz
    d2 = (xx - sx) ** 2 + ((ys - sun_y) * (h / w)) ** 2
    glow = style.sun_strength * (np.exp(-d2 / 0.02) * 0.6 + np.exp(-d2 / 0.0015) * 0.6)
    sky = sky + glow[..., None] * style.sun_color
    if style.sun_strength > 0:
        disc = _smoothstep(0.0016, 0.0009, d2)  # sun / moon disc
        sky = sky + (style.sun_color - sky) * (disc * min(1.0, style.sun_strength * 1.5))[..., None]
    c0 = 1.2 - 2.6 * style.clouds
    cover = _smoothstep(c0, c0 + 1.3, 0.75 * f.cloud[:r] + 0.35 * f.streak[:r] + 0.08 * f.fine[:r])
    cover = cover * np.clip(1.25 - s * 0.5, 0, 1)
    cloud = style.cloud_color * (0.88 + 0.1 * f.coarse[:r] + 0.1 * (0.5 - s))[..., None]
    sky = sky + (cloud - sky) * (cover * 0.92)[..., None]
    if style.stars > 0:
        star = (f.grain[:r] > 3.1).astype(np.float32) * (1 - cover) * (1 - s)
        sky = sky + star[..., None] * style.stars * 0.8
    img[:r] = np.where(is_sky[:r, :, None], sky, img[:r])
    return img, sky


def _paint_water(img: np.ndarray, f: _Frame, style: Style, sky: np.ndarray) -> np.ndarray:
    """Water and sea: the sky mirrored about the horizon, streaks, sun glitter, darker close by."""
    wet = (f.lab == WATER) | (f.lab == SEA)
    wet_rows = np.nonzero(wet.any(1))[0]
    r = len(sky)
    if not (len(wet_rows) and r > 0):
        return img
    h, hz, sx = f.h, f.hz, style.sun[0]
    q = int(wet_rows[0])
    yw, dw = f.yy[q:], f.depth[q:]
    mirror = np.clip(((2 * hz - yw) * h).astype(np.int64), 0, r - 1)[:, 0]
    refl = sky[mirror]
    fres = style.water_reflect * (1 - 0.6 * dw) * (0.85 + 0.15 * f.streak[q:])
    water = img[q:] + (refl - img[q:]) * fres[..., None]
    glit = (
        style.sun_strength
        * np.exp(-((f.xx - sx) ** 2) / (0.002 + 0.02 * dw))
        * _smoothstep(0.3, 1.2, f.streak[q:] + 0.5 * f.fine[q:])
        * (1 - dw * 0.5)
    )
    water = water + glit[..., None] * style.sun_color * 0.8
    img[q:] = np.where(wet[q:, :, None], water, img[q:])
    return img


def _shade_relief(img: np.ndarray, f: _Frame, style: Style) -> np.ndarray:
    """Light from the sun side on mountains and rocks (gradient of the coarse noise), snow caps."""
    lab, h, w = f.lab, f.h, f.w
    relief = (lab == MOUNTAIN) | (lab == ROCK)
    if not relief.any():
        return img
    gx = np.zeros_like(f.coarse)
    gx[:, 1:-1] = (f.coarse[:, 2:] - f.coarse[:, :-2]) * (w / 16.0)
    side = 1.0 if style.sun[0] > 0.5 else -1.0
    shade = np.clip(1.0 + 0.25 * side * gx - 0.1 * f.fine, 0.55, 1.4)
    img = np.where(relief[..., None], img * shade[..., None], img)
    if style.snow > 0:
        mtn = lab == MOUNTAIN
        top_row = np.where(mtn.any(0), mtn.argmax(0), h) / h  # ridge height per column
        below = f.yy - top_row[None, :]
        cap = _smoothstep(0.0, 0.02, style.snow * 0.12 * (f.hz - top_row[None, :]) * 4 - below + 0.03 * f.fine)
        snow_col = np.array([0.93, 0.95, 1.0], np.float32) * (0.85 + 0.15 * shade)[..., None]
        img = np.where(mtn[..., None], img + (snow_col - img) * cap[..., None], img)
    return img


def _shade_trees(img: np.ndarray, f: _Frame, style: Style) -> np.ndarray:
    """Lit crowns, dark undersides (a blurred, shifted tree mask), snow dusting in winter."""
    tree = f.lab == TREE
    if not tree.any():
        return img
    k = max(1, f.h // 64)
    m = cv2.blur(tree.astype(np.float32), (2 * k + 1, 2 * k + 1))
    above = np.empty_like(m)
    above[k:] = m[:-k]
    above[:k] = 0
    light_top = np.clip(1.25 - 0.5 * above, 0.7, 1.25) * (0.85 + 0.25 * np.clip(f.fine, -1, 1))
    tr = img * light_top[..., None]
    if style.snow > 0:
        dust = _smoothstep(0.9, 1.6, f.fine + (1 - above) * 1.2) * style.snow * 0.5
        tr = tr + (np.float32(0.92) - tr) * dust[..., None]
    return np.where(tree[..., None], tr, img)


def _paint_road_line(img: np.ndarray, f: _Frame) -> np.ndarray:
    """A dashed centre line in perspective."""
    road = f.lab == ROAD
    if not road.any():
        return img
    w = f.w
    rows = road.any(1)
    left = road.argmax(1)
    right = w - 1 - road[:, ::-1].argmax(1)
    centre = ((left + right) / 2.0 / w)[:, None]
    half = ((right - left) / 2.0 / w)[:, None]
    dash = np.sin(3.0 / np.maximum(f.yy - f.hz, 0.01)) > 0.2
    line = road & rows[:, None] & (np.abs(f.xx - centre) < 0.05 * half + 0.5 / w) & dash & (half * w > 3)
    return np.where(line[..., None], np.float32(0.85) * np.array([1.0, 0.95, 0.7], np.float32), img)


def _light_and_air(img: np.ndarray, f: _Frame, style: Style) -> np.ndarray:
    """Ground shading with depth, aerial perspective (haze), the style's light, desaturation."""
    yy, hz, depth = f.yy, f.hz, f.depth
    ground = f.lab != SKY
    dark = (0.8 + 0.25 * depth) * (1 - 0.12 * depth)
    img = np.where(ground[..., None], img * dark[..., None], img)
    far = np.where(yy < hz, 0.55 * np.clip(1 - (hz - yy) * 2, 0, 1), np.exp(-(yy - hz) * 9.0))
    hz_amt = style.haze * far * ground
    img = img + (style.haze_color - img) * hz_amt[..., None]
    img = img * style.light
    if style.desaturate:
        gray = img.mean(-1, keepdims=True)
        img = img + (gray - img) * style.desaturate
    return img


def _finish(img: np.ndarray, grain: np.ndarray) -> np.ndarray:
    """A slight blur (no aliased class edges), film grain, 8 bits."""
    img = cv2.GaussianBlur(img.astype(np.float32), (3, 3), 0.6)
    img = img + (grain * 0.012)[..., None]
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def scene_seeds(split: str, index: int) -> tuple[int, int]:
    """(layout seed, style seed) of item `index` of a split; the ranges of the splits are disjoint."""
    if split not in SPLIT_SEED_BASE:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLIT_SEED_BASE)}")
    if not 0 <= index < SPLIT_SEED_SPAN // 2:
        raise ValueError(f"index {index} out of range for split {split!r}")
    base = SPLIT_SEED_BASE[split]
    return base + index, base + SPLIT_SEED_SPAN // 2 + index


def make_scene(seed: int, size: int, kind: str | None = None, family: str | None = None,
               style_seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One picture with its label map: layout `seed` (of `kind`) painted in style `style_seed` (default: the
    same seed) of `family`. Returns (int64 class ids, uint8 RGB), both size x size."""
    layout = make_layout(seed, size, kind=kind)
    style = make_style(seed if style_seed is None else style_seed, family)
    return layout.labels.astype(np.int64), render(layout, style, seed)
