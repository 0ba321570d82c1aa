import cv2
import numpy as np
import pytest

from cocosnet.makeup import MAX_YAW_RATIO, MIN_FACE_PIXELS, Face, MakeupError, yaw_ratio
from cocosnet.makeup.landmarks import check_in_range


def rotated_about_vertical(points: np.ndarray, degrees: float) -> np.ndarray:
    """The 3-D landmarks turned about the vertical axis through their centre (a head turning)."""
    t = np.deg2rad(degrees)
    r = np.array([[np.cos(t), 0, np.sin(t)], [0, 1, 0], [-np.sin(t), 0, np.cos(t)]])
    c = points.mean(0)
    return (points - c) @ r.T + c


def test_the_astronaut_is_frontal_and_large_enough(astronaut):
    face = astronaut.face
    assert abs(yaw_ratio(face.points)) < 0.05
    assert 80 < face.short_side < 120 and MIN_FACE_PIXELS < face.short_side
    assert face.notes == []


def test_yaw_rule_on_the_turned_mesh(astronaut):
    pts = astronaut.face.points
    assert abs(yaw_ratio(rotated_about_vertical(pts, 20))) < MAX_YAW_RATIO
    assert yaw_ratio(rotated_about_vertical(pts, 20)) == pytest.approx(-yaw_ratio(rotated_about_vertical(pts, -20)),
                                                                     abs=0.05)
    turned = Face(rotated_about_vertical(pts, 45), (512, 512))
    with pytest.raises(MakeupError, match=r"t.png: the face is turned too far from the camera \(yaw ratio [+-]1\.\d\d, "
                                          r"at most ±0.8"):
        check_in_range(turned, "t.png")
    check_in_range(Face(rotated_about_vertical(pts, 15), (512, 512)), "ok.png")  # no error


def test_no_face_several_faces_and_a_tiny_face(astronaut, finder):
    with pytest.raises(MakeupError, match="grey.png: no face found"):
        finder(np.full((256, 256, 3), 128, np.uint8), "grey.png")
    crop = astronaut.image[20:260, 110:350]
    two = np.full((300, 512, 3), 120, np.uint8)
    two[:256, :256] = cv2.resize(crop, (256, 256))
    two[:200, -200:] = cv2.resize(crop, (200, 200))
    face = finder(two, "two.png")
    assert len(face.notes) == 1 and face.notes[0].startswith("two.png: 2 faces found; using the largest (x ")
    assert face.box[2] < 256  # the left, larger one
    tiny = cv2.resize(astronaut.image, (192, 192), interpolation=cv2.INTER_AREA)  # a ~35 px face, still detected
    with pytest.raises(MakeupError, match=rf"tiny.png: the face is too small \(\d\d px on its shorter side; at least "
                                          rf"{MIN_FACE_PIXELS} px are needed\)"):
        finder(tiny, "tiny.png")
