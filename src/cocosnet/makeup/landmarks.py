"""Faces for makeup transfer: MediaPipe Face Mesh landmarks of the largest face, and the range rule.

The range rule is what the landmarks (and the face model behind them) can be trusted for, measured on the
landmarks themselves: the face's shorter side in pixels (`MIN_FACE_PIXELS`) and how far it is turned away from
the camera (`yaw_ratio`, `MAX_YAW_RATIO`). Outside it the mesh is a guess and a warp would put makeup off the face.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import cv2
import numpy as np

from cocosnet.makeup.errors import MakeupError

MIN_FACE_PIXELS = 64  # the face's bounding box, shorter side (Face Mesh works on a 192 px crop of the face)
MAX_YAW_RATIO = 0.8  # |yaw_ratio| above: turned ~30 deg or more (the astronaut's mesh rotated in 3-D: 20 deg -> 0.5)
MAX_FACES = 4
# Face Mesh indices: the face oval's extremes at the cheeks (subject's right = image left) and the nose tip
RIGHT_CHEEK, LEFT_CHEEK, NOSE_TIP = 234, 454, 1


@dataclass
class Face:
    """One face: `points` 468 x 3 (pixels x, y; z relative depth, smaller = nearer) in an image of `size` (h, w)."""

    points: np.ndarray
    size: tuple[int, int]
    notes: list[str] = field(default_factory=list)

    @cached_property
    def box(self) -> tuple[float, float, float, float]:
        """x0, y0, x1, y1 of the landmarks."""
        (x0, y0), (x1, y1) = self.points[:, :2].min(0), self.points[:, :2].max(0)
        return float(x0), float(y0), float(x1), float(y1)

    @property
    def short_side(self) -> float:
        x0, y0, x1, y1 = self.box
        return min(x1 - x0, y1 - y0)

    @property
    def area(self) -> float:
        """Area of the landmarks' convex hull, in pixels (which face is the largest)."""
        return float(cv2.contourArea(cv2.convexHull(self.points[:, :2].astype(np.float32))))


def yaw_ratio(points: np.ndarray) -> float:
    """Where the nose tip sits between the cheeks, along the line joining them: 0 frontal, -1 / +1 in profile
    (the sign says which way). Independent of the face's size, position and roll."""
    p = np.asarray(points, np.float64)[:, :2]
    axis = p[LEFT_CHEEK] - p[RIGHT_CHEEK]
    span = float(np.linalg.norm(axis))
    if span < 1e-6:
        return 1.0
    t = float((p[NOSE_TIP] - p[RIGHT_CHEEK]) @ axis) / span**2
    return 2.0 * t - 1.0


def check_in_range(face: Face, name: str) -> None:
    """MakeupError naming `name` when the face is outside what the landmarks are good for."""
    if face.short_side < MIN_FACE_PIXELS:
        raise MakeupError(f"{name}: the face is too small ({face.short_side:.0f} px on its shorter side; at least "
                          f"{MIN_FACE_PIXELS} px are needed): use a larger or closer crop of the face")
    yaw = yaw_ratio(face.points)
    if abs(yaw) > MAX_YAW_RATIO:
        raise MakeupError(f"{name}: the face is turned too far from the camera (yaw ratio {yaw:+.2f}, at most "
                          f"±{MAX_YAW_RATIO} is accepted; 0 is frontal, ±1 profile): use a more frontal photo")


class FaceFinder:
    """The largest face of an RGB uint8 photo, checked against the range rule (MediaPipe Face Mesh, offline)."""

    def __init__(self, max_faces: int = MAX_FACES) -> None:
        from cocosnet.data.mediapipe_tools import FaceParser

        self.parser = FaceParser(max_faces=max_faces)

    @property
    def connections(self):
        return self.parser.connections

    def __call__(self, image: np.ndarray, name: str) -> Face:
        image = np.ascontiguousarray(np.asarray(image, np.uint8)[..., :3])
        faces = [Face(p, image.shape[:2]) for p in self.parser.all_landmarks(image)]
        if not faces:
            raise MakeupError(f"{name}: no face found (MediaPipe Face Mesh found none; the face should be frontal "
                              f"and at least {MIN_FACE_PIXELS} px)")
        faces.sort(key=lambda f: f.area, reverse=True)
        face = faces[0]
        if len(faces) > 1:
            x0, y0, x1, y1 = face.box
            face.notes.append(f"{name}: {len(faces)} faces found; using the largest (x {x0:.0f}-{x1:.0f}, "
                              f"y {y0:.0f}-{y1:.0f})")
        check_in_range(face, name)
        return face

    def close(self) -> None:
        self.parser.close()
