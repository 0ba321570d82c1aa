import numpy as np
import pytest
from PIL import Image

from cocosnet.makeup import MakeupError, premultiplied, read_layer, straight_rgba


def test_rgba_round_trip_and_transparency_sources(tmp_path):
    rgba = np.zeros((4, 6, 4), np.uint8)
    rgba[1, 2] = (10, 200, 30, 255)
    rgba[2, 3] = (255, 0, 0, 51)
    Image.fromarray(rgba).save(tmp_path / "layer.png")
    got = read_layer(tmp_path / "layer.png", (4, 6))
    assert (got == rgba).all()
    back = straight_rgba(premultiplied(got))
    assert (back[..., 3] == rgba[..., 3]).all() and np.abs(back.astype(int) - rgba).max() <= 1
    # a grey+alpha picture and a palette with a transparent index are layers too
    Image.fromarray(rgba[..., [0, 3]], "LA").save(tmp_path / "la.png")
    assert read_layer(tmp_path / "la.png", (4, 6))[..., 3].tolist() == rgba[..., 3].tolist()
    p = Image.new("P", (6, 4), 0)
    p.putpalette([0, 0, 0, 255, 0, 0])
    p.putpixel((1, 1), 1)
    p.save(tmp_path / "p.png", transparency=0)
    assert read_layer(tmp_path / "p.png", (4, 6))[1, 1].tolist() == [255, 0, 0, 255]


def test_a_layer_without_alpha_or_of_another_size_is_refused(tmp_path):
    Image.new("RGB", (6, 4), (255, 0, 0)).save(tmp_path / "rgb.png")
    with pytest.raises(MakeupError, match=r"rgb.png: the makeup layer has no alpha channel \(mode RGB\); save it "
                                          r"as an RGBA PNG"):
        read_layer(tmp_path / "rgb.png", (4, 6))
    Image.new("RGBA", (6, 4)).save(tmp_path / "small.png")
    with pytest.raises(MakeupError, match=r"small.png: the layer is 6x4 but the reference portrait is 12x8; draw the "
                                          r"layer on the reference, at its size"):
        read_layer(tmp_path / "small.png", (8, 12))
