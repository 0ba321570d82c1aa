"""Makeup transfer (the paper's application): a makeup layer drawn on one portrait, warped onto others by a dense
face correspondence and blended — MediaPipe Face Mesh + a piecewise-affine warp offline, or the CoCosNet
correspondence of a face checkpoint. See docs/makeup.md."""

from cocosnet.makeup.blend import BLEND_MODES, blend_layer
from cocosnet.makeup.errors import MakeupError
from cocosnet.makeup.landmarks import MAX_YAW_RATIO, MIN_FACE_PIXELS, Face, FaceFinder, yaw_ratio
from cocosnet.makeup.layer import premultiplied, read_layer, straight_rgba
from cocosnet.makeup.mesh_warp import MeshWarp
from cocosnet.makeup.model_warp import CorrespondenceWarp
from cocosnet.makeup.transfer import MakeupResult, MakeupTransfer

__all__ = ["BLEND_MODES", "MAX_YAW_RATIO", "MIN_FACE_PIXELS", "CorrespondenceWarp", "Face", "FaceFinder",
           "MakeupError", "MakeupResult", "MakeupTransfer", "MeshWarp", "blend_layer", "premultiplied",
           "read_layer", "straight_rgba", "yaw_ratio"]
