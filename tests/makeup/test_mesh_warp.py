import cv2
import numpy as np
import pytest

from cocosnet.makeup import MakeupTransfer, premultiplied
from cocosnet.makeup.mesh_warp import mesh_topology, mesh_warp_maps, triangle_index_map
from tests.makeup.conftest import EYE_RGBA, LIP_RGBA


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def test_topology_is_the_mesh_with_its_eyes_and_mouth_closed(finder):
    t = mesh_topology(finder.connections)
    assert sorted(len(rim) for rim in t.holes) == [16, 16, 20]  # two eyes, the inner lips
    # Face Mesh's 852 triangles (the 3-cycles that enclose others dropped) + one fan triangle per rim edge
    assert len(t.triangles) == 852 + 16 + 16 + 20
    assert t.triangles.max() == 468 + 2 and len(np.unique(t.triangles)) == 468 + 3


def test_the_mesh_covers_the_eyes_and_lips(astronaut, finder):
    t = mesh_topology(finder.connections)
    index = triangle_index_map(t.extend(astronaut.face.points), t.triangles, astronaut.image.shape[:2])
    assert (index[astronaut.lips | astronaut.eyes] >= 0).all()
    assert (index[:40] < 0).all()  # above the forehead: outside the mesh


def test_maps_of_a_known_affine_are_its_inverse(astronaut, finder):
    """Landmarks moved by a known affine (no detector involved): every pixel in the mesh maps back exactly."""
    t = mesh_topology(finder.connections)
    src = t.extend(astronaut.face.points)
    a = cv2.getRotationMatrix2D((256, 256), -20, 0.9)
    dst = src.copy()
    dst[:, :2] = src[:, :2] @ a[:, :2].T + a[:, 2]
    map_x, map_y = mesh_warp_maps(src, dst, t.triangles, (512, 512))
    inside = map_x >= 0
    assert inside.sum() > 5000
    inv = cv2.invertAffineTransform(a)
    ys, xs = np.nonzero(inside)
    want = np.stack([xs, ys], 1) @ inv[:, :2].T + inv[:, 2]
    # float32 maps of coordinates < 512: rounding ~3e-5 px
    assert np.abs(map_x[inside] - want[:, 0]).max() < 1e-3 and np.abs(map_y[inside] - want[:, 1]).max() < 1e-3


@pytest.fixture(scope="module")
def transfer(finder):
    return MakeupTransfer(finder=finder)


def test_a_layer_warped_onto_its_own_portrait_comes_back(astronaut, transfer):
    result = transfer.transfer(astronaut.image, astronaut.layer, [astronaut.image], blend="normal")[0]
    # the same photo gives the same landmarks: every triangle's affine is the identity up to float64 rounding
    assert np.abs(result.warped_layer - premultiplied(astronaut.layer)).max() < 1e-4
    painted = astronaut.layer[..., 3] > 0
    assert (result.image[painted] == astronaut.layer[painted][:, :3]).all()  # normal blend at opacity 1
    assert (result.image[~painted] == astronaut.image[~painted]).all()


@pytest.mark.parametrize("warp", ["rotation+scale", "smooth"])
def test_makeup_lands_where_the_warp_says(astronaut, warped_targets, transfer, warp):
    target, true_lips, true_eyes = warped_targets[warp]
    result = transfer.transfer(astronaut.image, astronaut.layer, [target])[0]
    rgba = result.warped_rgba()
    painted = rgba[..., 3] > 127
    lips = painted & (np.abs(rgba[..., :3].astype(int) - LIP_RGBA[:3]).max(-1) < 60)
    eyes = painted & (np.abs(rgba[..., :3].astype(int) - EYE_RGBA[:3]).max(-1) < 60)
    assert iou(lips, true_lips) >= 0.8, f"lips IoU {iou(lips, true_lips):.3f}"
    assert iou(eyes, true_eyes) >= 0.8, f"eyes IoU {iou(eyes, true_eyes):.3f}"
