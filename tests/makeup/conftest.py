"""A real portrait that installs offline (scikit-image's astronaut), its Face Mesh landmarks found once, a makeup
layer on its lips and eyes, and targets under known geometric warps (whose true makeup position is known)."""

from dataclasses import dataclass

import cv2
import numpy as np
import pytest

from tests.conftest import require_module


@dataclass
class Portrait:
    image: np.ndarray
    face: object  # cocosnet.makeup.Face
    lips: np.ndarray  # bool HxW
    eyes: np.ndarray
    layer: np.ndarray  # uint8 HxWx4: red lips, blue eyes (straight alpha)


LIP_RGBA = (200, 20, 60, 255)
EYE_RGBA = (40, 40, 170, 255)


@pytest.fixture(scope="session")
def finder():
    require_module("mediapipe")
    from cocosnet.makeup import FaceFinder

    f = FaceFinder()
    yield f
    f.close()


@pytest.fixture(scope="session")
def astronaut(finder) -> Portrait:
    data = require_module("skimage.data")
    from cocosnet.data.mediapipe_tools import face_part_masks

    image = data.astronaut()
    face = finder(image, "astronaut")
    parts = face_part_masks(face.points, *image.shape[:2], finder.connections)
    lips, eyes = parts["u_lip"] | parts["l_lip"], parts["l_eye"] | parts["r_eye"]
    layer = np.zeros((*image.shape[:2], 4), np.uint8)
    layer[lips], layer[eyes] = LIP_RGBA, EYE_RGBA
    return Portrait(image, face, lips, eyes, layer)


def smooth_maps(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """`cv2.remap` maps of a smooth non-rigid warp (a few pixels of sinusoidal displacement plus a mild zoom)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = w / 2, h / 2
    map_x = cx + (xx - cx) * 0.92 + 6 * np.sin(2 * np.pi * yy / 300)
    map_y = cy + (yy - cy) * 0.92 + 5 * np.sin(2 * np.pi * xx / 260)
    return map_x, map_y


@pytest.fixture(scope="session")
def warped_targets(astronaut):
    """name -> (target photo, true lip mask, true eye mask): a rotation + scale + shift, and a smooth warp."""
    img = astronaut.image
    h, w = img.shape[:2]
    a = cv2.getRotationMatrix2D((w / 2, h / 2), 15, 1.1)
    a[0, 2] += 10

    def affine(x, nearest=False):
        flags = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
        return cv2.warpAffine(x, a, (w, h), flags=flags, borderMode=cv2.BORDER_REFLECT)

    mx, my = smooth_maps(h, w)

    def smooth(x, nearest=False):
        return cv2.remap(x, mx, my, cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REFLECT)

    out = {}
    for name, fn in (("rotation+scale", affine), ("smooth", smooth)):
        masks = [fn(m.astype(np.uint8), nearest=True) > 0 for m in (astronaut.lips, astronaut.eyes)]
        out[name] = (fn(img), *masks)
    return out
