import numpy as np
import pytest

from cocosnet.makeup import blend_layer, premultiplied
from cocosnet.makeup.blend import blend_colour


def test_blend_modes_by_hand():
    base = np.array([0.2, 0.5, 0.8])
    colour = np.array([0.5, 0.25, 0.75])
    assert np.allclose(blend_colour(base, colour, "multiply"), [0.1, 0.125, 0.6])
    assert np.allclose(blend_colour(base, colour, "normal"), colour)
    # W3C soft-light: c <= 0.5: b - (1-2c) b (1-b); c > 0.5: b + (2c-1)(D(b)-b), D(b) = sqrt(b) for b > 0.25
    assert np.allclose(blend_colour(base, colour, "soft-light"),
                       [0.2, 0.5 - 0.5 * 0.5 * 0.5, 0.8 + 0.5 * (np.sqrt(0.8) - 0.8)])
    assert np.allclose(blend_colour(np.array([0.1]), np.array([1.0]), "soft-light"), ((16 * 0.1 - 12) * 0.1 + 4) * 0.1)
    with pytest.raises(ValueError, match="unknown blend mode 'screen'; choose one of multiply, normal, soft-light"):
        blend_colour(base, colour, "screen")


def test_alpha_and_opacity_mix_the_blend_over_the_photo():
    photo = np.full((2, 2, 3), 200, np.uint8)
    layer = np.zeros((2, 2, 4), np.uint8)
    layer[0, 0] = (100, 50, 0, 255)
    layer[0, 1] = (100, 50, 0, 128)
    out = blend_layer(photo, premultiplied(layer), "multiply", opacity=0.5)
    b = 200 / 255
    want00 = b + 0.5 * (b * np.array([100, 50, 0]) / 255 - b)
    want01 = b + 0.5 * 128 / 255 * (b * np.array([100, 50, 0]) / 255 - b)
    assert np.abs(out[0, 0] - want00 * 255).max() <= 0.5 + 1e-6
    assert np.abs(out[0, 1] - want01 * 255).max() <= 0.5 + 1e-6  # premultiplying and back is exact to rounding
    assert (out[1] == 200).all()  # transparent: the photo
    assert (blend_layer(photo, premultiplied(layer), "normal", opacity=0.0) == photo).all()
    with pytest.raises(ValueError, match=r"opacity must be in \[0, 1\], got 1.5"):
        blend_layer(photo, premultiplied(layer), opacity=1.5)
