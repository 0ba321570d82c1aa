"""The offline correspondence: a piecewise-affine warp over the triangles of MediaPipe's face mesh.

Each triangle of the target's mesh maps affinely onto the same triangle of the reference's mesh; every target
pixel inside the mesh reads the layer there (bilinear, OpenCV's `remap`). The mesh's holes (eyes, mouth) are
closed by a fan from each hole's centre (`MeshTopology`). Triangles are drawn far to near (by the
landmarks' depth), so where a turned face folds its mesh the nearer surface wins. Outside the mesh (hair, neck,
background) the warped layer is transparent.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

SUBPIXEL_BITS = 4  # triangles are filled at 1/16 px precision


@dataclass(frozen=True)
class MeshTopology:
    """The face mesh's triangles, with its holes (the eyes, the mouth) closed: each hole gets one extra vertex,
    the mean of its rim's landmarks, and a fan of triangles to the rim, so makeup on the eyelids' rim and the
    lips' inner edge is carried too."""

    triangles: np.ndarray  # T x 3 indices into `extend(points)`
    holes: tuple[tuple[int, ...], ...]  # the rims of the holes (landmark indices)

    def extend(self, points: np.ndarray) -> np.ndarray:
        """468 x D landmarks -> (468 + holes) x D: the holes' centre vertices appended."""
        pts = np.asarray(points, np.float64)
        return np.concatenate([pts, np.stack([pts[list(rim)].mean(0) for rim in self.holes])])


def mesh_topology(connections) -> MeshTopology:
    """The topology from MediaPipe's `face_mesh_connections` (the tessellation's edges)."""
    return _topology(frozenset(tuple(sorted(e)) for e in connections.FACEMESH_TESSELATION))


def _edges_of(tri) -> tuple[tuple[int, int], ...]:
    a, b, c = tri
    return (a, b), (a, c), (b, c)


@lru_cache(maxsize=2)
def _topology(edges: frozenset) -> MeshTopology:
    from cocosnet.data.mediapipe_tools import _cycles

    adj: dict[int, set[int]] = {}
    for a, b in edges:
        adj.setdefault(a, set()).add(b)
        adj.setdefault(b, set()).add(a)
    # the edge graph's 3-cycles are the faces, plus a few that enclose faces (all three of their edges are then
    # shared by more than two 3-cycles): those are dropped
    cycles = sorted({tuple(sorted((a, b, c))) for a, b in edges for c in adj[a] & adj[b]})
    uses = Counter(e for t in cycles for e in _edges_of(t))
    faces = [t for t in cycles if min(uses[e] for e in _edges_of(t)) <= 2]
    uses = Counter(e for t in faces for e in _edges_of(t))
    rims = sorted(_cycles([e for e, n in uses.items() if n == 1]), key=len)[:-1]  # all but the face oval
    n = 1 + max(max(e) for e in edges)
    fans = [(n + k, rim[i], rim[(i + 1) % len(rim)]) for k, rim in enumerate(rims) for i in range(len(rim))]
    return MeshTopology(np.array(faces + fans, np.int64), tuple(tuple(r) for r in rims))


def triangle_index_map(points: np.ndarray, triangles: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """int32 HxW: the triangle covering each pixel centre (-1 outside the mesh), nearer triangles on top."""
    h, w = size
    index = np.full((h, w), -1, np.int32)
    pts = np.asarray(points, np.float64)
    depth = pts[triangles, 2].mean(1) if pts.shape[1] > 2 else np.zeros(len(triangles))
    corners = np.round(pts[triangles, :2] * (1 << SUBPIXEL_BITS)).astype(np.int32)
    for i in np.argsort(-depth, kind="stable"):  # far first: larger z is farther from the camera
        cv2.fillConvexPoly(index, corners[i], int(i), lineType=cv2.LINE_8, shift=SUBPIXEL_BITS)
    return index


def triangle_affines(src: np.ndarray, dst: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """T x 2 x 3: per triangle, the affine map from its corners in `dst` to its corners in `src` (pixels).
    Degenerate triangles (a collapsed corner) get the least-squares map (pseudo-inverse)."""
    d = np.concatenate([dst[triangles, :2], np.ones((len(triangles), 3, 1))], -1)  # T x 3 x 3 rows [x y 1]
    s = src[triangles, :2]  # T x 3 x 2
    return np.transpose(np.linalg.pinv(d) @ s, (0, 2, 1))


def mesh_warp_maps(src_points: np.ndarray, dst_points: np.ndarray, triangles: np.ndarray,
                   dst_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """`cv2.remap` maps (float32 HxW x and y in the source) of the piecewise-affine warp taking an image on the
    source face onto the destination face; -1 (outside any source pixel) where no triangle covers the pixel."""
    h, w = dst_size
    index = triangle_index_map(dst_points, triangles, dst_size)
    affine = triangle_affines(np.asarray(src_points, np.float64), np.asarray(dst_points, np.float64), triangles)
    map_x = np.full((h, w), -1, np.float32)
    map_y = np.full((h, w), -1, np.float32)
    ys, xs = np.nonzero(index >= 0)
    m = affine[index[ys, xs]]  # N x 2 x 3
    map_x[ys, xs] = m[:, 0, 0] * xs + m[:, 0, 1] * ys + m[:, 0, 2]
    map_y[ys, xs] = m[:, 1, 0] * xs + m[:, 1, 1] * ys + m[:, 1, 2]
    return map_x, map_y


def warp_premultiplied(layer: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    """A premultiplied float32 HxWx4 layer resampled through remap maps (bilinear; transparent outside)."""
    return cv2.remap(layer, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


class MeshWarp:
    """`MeshWarp(connections)(layer, reference_points, target_points, target_size)`: the premultiplied RGBA
    layer (float32 HxWx4 on the reference) on the target."""

    name = "MediaPipe Face Mesh landmarks + piecewise-affine warp over the mesh's triangles (offline)"

    def __init__(self, connections) -> None:
        self.topology = mesh_topology(connections)

    def __call__(self, layer: np.ndarray, reference_points: np.ndarray, target_points: np.ndarray,
                 target_size: tuple[int, int]) -> np.ndarray:
        t = self.topology
        map_x, map_y = mesh_warp_maps(t.extend(reference_points), t.extend(target_points), t.triangles, target_size)
        return warp_premultiplied(layer, map_x, map_y)
