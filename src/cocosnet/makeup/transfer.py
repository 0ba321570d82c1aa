"""Makeup transfer: a layer drawn on a reference portrait, warped onto target portraits and blended.

The correspondence is the offline mesh warp (`MeshWarp`) unless a face checkpoint is given
(`CorrespondenceWarp`). Faces are found once per photo (`FaceFinder`); the reference's landmarks are reused for
every target.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cocosnet.makeup.blend import blend_layer
from cocosnet.makeup.errors import MakeupError
from cocosnet.makeup.landmarks import Face, FaceFinder
from cocosnet.makeup.layer import premultiplied, read_layer, straight_rgba
from cocosnet.makeup.mesh_warp import MeshWarp


@dataclass
class MakeupResult:
    """One target: the made-up photo (uint8 HxWx3), the warped layer (premultiplied float32 HxWx4) and notes."""

    name: str
    image: np.ndarray
    warped_layer: np.ndarray
    notes: list[str] = field(default_factory=list)

    def warped_rgba(self) -> np.ndarray:
        return straight_rgba(self.warped_layer)


def read_photo(source: Any, name: str) -> np.ndarray:
    """A path (checked as the CLI checks inputs), PIL image or array -> uint8 HxWx3 RGB."""
    if isinstance(source, (str, Path)):
        from cocosnet.data.io import read_image

        return np.asarray(read_image(source, user_input=True))
    arr = np.asarray(source.convert("RGB") if hasattr(source, "convert") else source)
    if arr.ndim != 3 or arr.shape[2] < 3 or arr.dtype != np.uint8:
        raise MakeupError(f"{name}: expected a uint8 HxWx3 photo, got {arr.dtype} {arr.shape}")
    return np.ascontiguousarray(arr[..., :3])


class MakeupTransfer:
    """`MakeupTransfer()` (offline mesh warp) or `MakeupTransfer(warp=CorrespondenceWarp(...))`, then
    `transfer(reference, layer, targets)`. Photos: paths, PIL images or uint8 arrays."""

    def __init__(self, warp=None, finder: FaceFinder | None = None) -> None:
        self.finder = finder or FaceFinder()
        self.warp = warp or MeshWarp(self.finder.connections)

    @property
    def correspondence(self) -> str:
        """Which correspondence warps the layer (said on stdout by the CLI, in the JSON by the app)."""
        return self.warp.name

    def face(self, photo: np.ndarray, name: str) -> Face:
        return self.finder(photo, name)

    def transfer(self, reference: Any, layer: Any, targets: list, blend: str = "multiply", opacity: float = 1.0,
                 names: list[str] | None = None) -> list[MakeupResult]:
        names = names or [str(t) if isinstance(t, (str, Path)) else f"target {i}" for i, t in enumerate(targets)]
        ref_name = str(reference) if isinstance(reference, (str, Path)) else "reference"
        ref = read_photo(reference, ref_name)
        ref_layer = premultiplied(read_layer(layer, ref.shape[:2]))
        ref_face = self.face(ref, ref_name)
        results = []
        for target, name in zip(targets, names, strict=True):
            photo = read_photo(target, name)
            face = self.face(photo, name)
            if isinstance(self.warp, MeshWarp):
                warped = self.warp(ref_layer, ref_face.points, face.points, photo.shape[:2])
            else:
                warped = self.warp(ref_layer, ref, ref_face, photo, face)
            results.append(MakeupResult(name, blend_layer(photo, warped, blend, opacity), warped,
                                        ref_face.notes + face.notes))
        return results

    def close(self) -> None:
        self.finder.close()
