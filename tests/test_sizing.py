"""The working size: aspect ratio kept, square inputs at the preset's size, rounding to 32, clear refusals."""

import pytest

from cocosnet.presets import MAX_INPUT_PIXELS
from cocosnet.sizing import output_size, parse_size, working_size


def test_parse_size():
    assert parse_size("256") == 256
    assert parse_size("256x384") == (256, 384)
    assert parse_size(" 128X192 ") == (128, 192)
    with pytest.raises(ValueError, match="N \\(short side\\) or HxW"):
        parse_size("256x")


def test_output_size_keeps_the_aspect_ratio_and_square_inputs_stay_at_the_preset_size():
    assert output_size((512, 512), 256) == (256, 256)  # today's square images
    assert output_size((128, 192), 128) == (128, 192)
    assert output_size((128, 192), 64) == (64, 96)
    assert output_size((300, 200), 256) == (384, 256)
    assert output_size((128, 192), 64, 256) == (256, 384)
    assert output_size((128, 192), 64, (100, 50)) == (100, 50)


def test_working_size_rounds_to_multiples_of_32_and_refuses_what_the_model_cannot_take():
    assert working_size((256, 384)) == (256, 384)
    assert working_size((100, 150)) == (96, 160)
    assert working_size((20, 40)) == (32, 32)
    with pytest.raises(ValueError, match="too small.*1/32"):
        working_size((8, 64))
    with pytest.raises(ValueError, match=f"over the limit of {MAX_INPUT_PIXELS} pixels"):
        working_size((4096, 8192))
