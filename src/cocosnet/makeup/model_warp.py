"""The CoCosNet correspondence as the makeup warp (a face checkpoint: the authors' CelebA-HQ edge model).

Reference and target are each cropped to a square face frame at the model's size (`face_frame`: CelebA-HQ-like
framing around the Face Mesh landmarks), their edge inputs are built from the Face Mesh part regions exactly as
`cocosnet prepare face` builds them, and the correspondence matches the target's edge map (input x_A) against the
reference photo (exemplar y_B, with its own edge map for maskmix). The makeup layer is then warped by the same
softmax the model uses for the exemplar (`Correspondence.correlate_and_warp` on the layer's channels), and the
warped layer is mapped back from the target's face frame to the target photo.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from cocosnet.makeup.errors import MakeupError
from cocosnet.makeup.landmarks import Face

FACE_FRAME_SCALE = 1.8  # the square crop's side / the landmarks' larger side (faces fill ~55% as in CelebA-HQ)
FACE_PRESETS = ("celebahq_edge",)  # presets whose input can be built from Face Mesh part regions


def face_frame(face: Face, size: int, scale: float = FACE_FRAME_SCALE) -> np.ndarray:
    """2x3 affine from the photo to a size x size face crop centred on the landmarks' box."""
    x0, y0, x1, y1 = face.box
    s = size / (scale * max(x1 - x0, y1 - y0))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return np.array([[s, 0.0, size / 2 - s * cx], [0.0, s, size / 2 - s * cy]])


@dataclass
class FaceInputs:
    """One photo in its face frame: the exemplar-style tensor, the edge map and the frame's affine."""

    photo: torch.Tensor  # [1,3,S,S] in [-1,1]
    edges: torch.Tensor  # [1,15,S,S] in [0,1]
    frame: np.ndarray  # 2x3, photo -> crop


class CorrespondenceWarp:
    """`CorrespondenceWarp(correspondence, connections)(layer, reference, ref_face, target, tgt_face)`: the
    premultiplied RGBA layer (float32 HxWx4 on the reference) warped onto the target by the learnt correspondence."""

    def __init__(self, correspondence, connections, device: str | torch.device = "cpu") -> None:
        cfg = correspondence.cfg
        if cfg.name not in FACE_PRESETS:
            raise MakeupError(f"makeup transfer needs a face checkpoint ({', '.join(FACE_PRESETS)}); preset "
                              f"{cfg.name!r} does not take Face Mesh part regions")
        self.cfg = cfg
        self.device = torch.device(device)
        self.correspondence = correspondence.eval().requires_grad_(False).to(self.device)
        self.connections = connections
        self.name = f"CoCosNet correspondence ({cfg.name}, {cfg.image_size}x{cfg.image_size})"

    @classmethod
    def from_official(cls, folder: str | Path, preset: str, connections, image_size: int | None = None,
                      device: str = "auto") -> CorrespondenceWarp:
        """The authors' `latest_net_Corr.pth` from `folder` (the generator is not needed to warp)."""
        from cocosnet.correspondence import Correspondence
        from cocosnet.presets import canonical_name, get_model_config
        from cocosnet.runtime import resolve_device
        from cocosnet.weights import load_official, official_paths

        if canonical_name(preset) not in FACE_PRESETS:
            raise MakeupError(f"--preset {preset}: makeup transfer needs a face checkpoint "
                              f"({', '.join(FACE_PRESETS)})")
        cfg = get_model_config(preset, **({"image_size": image_size} if image_size else {}))
        with torch.device("meta"):
            corr = Correspondence(cfg)
        load_official(corr, official_paths(folder)["Corr"], "Corr")
        return cls(corr, connections, resolve_device(device))

    def face_inputs(self, photo: np.ndarray, face: Face) -> FaceInputs:
        from cocosnet.data.mediapipe_tools import face_part_masks
        from cocosnet.data.prepare import face_edge_encoding
        from cocosnet.data.transforms import image_to_tensor

        size = self.cfg.image_size
        frame = face_frame(face, size)
        crop = cv2.warpAffine(np.ascontiguousarray(photo[..., :3]), frame, (size, size), flags=cv2.INTER_AREA,
                              borderMode=cv2.BORDER_REPLICATE)
        points = face.points[:, :2] @ frame[:, :2].T + frame[:, 2]
        edges = face_edge_encoding(crop, face_part_masks(points, size, size, self.connections))
        return FaceInputs(image_to_tensor(crop)[None], torch.from_numpy(edges).float()[None] / 255.0, frame)

    @torch.inference_mode()
    def warp_tensor(self, layer: torch.Tensor, target: FaceInputs, reference: FaceInputs
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """layer [1,C,S,S] on the reference's frame -> (the layer warped onto the target's frame [1,C,S,S], the
        model's warped exemplar r_y->x [1,3,S,S]): one correlation, the same softmax for both."""
        corr = self.correspondence
        dev = self.device
        out = corr(target.edges.to(dev), reference.photo.to(dev), reference.edges.to(dev),
                   return_intermediates=True)
        theta, phi = out.theta.float(), out.phi.float()
        c = layer.shape[1]
        padded = torch.cat([layer.float(), layer.new_zeros(1, -c % 3, *layer.shape[-2:])], 1).to(dev)
        # correlate_and_warp warps 3 channels at a time, exactly as it warps the exemplar's RGB
        groups = [corr.correlate_and_warp(theta, phi, g, None, False, False, False).warp_out
                  for g in padded.split(3, 1)]
        return torch.cat(groups, 1)[:, :c].cpu(), out.warp_out.cpu()

    def __call__(self, layer: np.ndarray, reference: np.ndarray, reference_face: Face, target: np.ndarray,
                 target_face: Face) -> np.ndarray:
        size = self.cfg.image_size
        ref_in = self.face_inputs(reference, reference_face)
        tgt_in = self.face_inputs(target, target_face)
        layer_crop = cv2.warpAffine(layer, ref_in.frame, (size, size), flags=cv2.INTER_AREA,
                                    borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        warped, _ = self.warp_tensor(torch.from_numpy(layer_crop).permute(2, 0, 1)[None], tgt_in, ref_in)
        warped = warped[0].permute(1, 2, 0).numpy()
        h, w = target.shape[:2]
        return cv2.warpAffine(warped, tgt_in.frame, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)
