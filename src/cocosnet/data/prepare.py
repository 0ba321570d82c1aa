"""Encodings of users' own photos (pose, face edges, Canny/HED edges), used by `cocosnet prepare`."""

from __future__ import annotations

import numpy as np

from cocosnet.data import encoders as E
from cocosnet.data.errors import DataError

KINDS = ("pose", "face", "canny", "hed")


def face_edge_encoding(img: np.ndarray, parts: dict[str, np.ndarray]) -> np.ndarray:
    """The CelebA-HQ edge input of a photo from its part masks: uint8 [15,H,W] (0..255) = [edges_all, 13
    distance maps, parsing edges], the layout of the released checkpoint."""
    binary, dists = E.celeba_edge_encoding(img, parts)
    enc = np.concatenate([binary[..., :1] * 255, dists, binary[..., 1:] * 255], -1).astype(np.uint8)
    return enc.transpose(2, 0, 1)


class PhotoEncoder:
    """`PhotoEncoder(kind)(rgb_uint8)` -> (uint8 [C,H,W] encoding (0..255), uint8 HxWx3 preview, extra JSON
    fields). pose: DeepFashion 20 channels (MediaPipe Pose -> COCO-18); face: CelebA-HQ edge 15 channels
    (MediaPipe Face Mesh part masks); canny / hed: one edge channel. Raises DataError when no person / face
    is found."""

    def __init__(self, kind: str):
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
        self.kind = kind
        if kind == "pose":
            from cocosnet.data.mediapipe_tools import PoseEstimator

            self.tool = PoseEstimator()
        elif kind == "face":
            from cocosnet.data.mediapipe_tools import FaceParser

            self.tool = FaceParser()
        elif kind == "hed":
            from cocosnet.data.hed import HED

            self.tool = HED.from_package()

    def __call__(self, img: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
        img = np.ascontiguousarray(np.asarray(img, np.uint8)[..., :3])
        h, w = img.shape[:2]
        if self.kind == "pose":
            kp = self.tool(img)
            if (kp[:, 2] < 0).all():
                raise DataError("no person found")
            cand, sub = E.keypoints_to_openpose(kp)
            rgb, dists = E.pose_encoding(cand, sub, h, w)
            enc = np.concatenate([rgb, dists], -1)
            extra = {
                "keypoints": kp.round(2).tolist(),
                "width": w,
                "height": h,
                "format": "COCO-18 (OpenPose order), -1 = missing",
            }
            return enc.transpose(2, 0, 1), rgb, extra
        if self.kind == "face":
            parts = self.tool(img)
            if parts is None:
                raise DataError("no face found")
            enc = face_edge_encoding(img, parts)
            return enc, np.repeat(enc[0, ..., None], 3, -1), {}
        if self.kind == "canny":
            e = (E.canny_edges(img) * 255).astype(np.uint8)
        else:
            e = (self.tool.detect(img) * 255 + 0.5).astype(np.uint8)
        return e[None], np.repeat(e[..., None], 3, -1), {}
