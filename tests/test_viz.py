"""cocosnet.viz: the palettes' values, label colouring and the grids' layout."""

import numpy as np
import pytest
import torch
from PIL import Image

from cocosnet.presets import LANDSCAPE_COLORS, ModelConfig, get_model_config
from cocosnet.viz import (
    class_palette,
    colorize,
    colorize_labels,
    default_palette,
    grid,
    grid_cell,
    label_palette,
    save_grid,
    semantic_cell,
    semantic_preview,
    to_unit,
    voc_palette,
)


def test_voc_palette_values():
    assert voc_palette(9).tolist() == [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128],
                                       [128, 0, 128], [0, 128, 128], [128, 128, 128], [64, 0, 0]]
    # 150 = 0b10_010_110: bits (r, g, b) taken three at a time from the top -> g = 0b11100000, b = 0b10000000
    assert voc_palette(151)[150].tolist() == [0, 224, 128] and voc_palette(151).dtype == np.uint8


def test_class_palettes_preset_colours_or_the_fixed_pseudo_random_one():
    land = get_model_config("landscapes")
    assert label_palette(land).tolist() == [list(c) for c in LANDSCAPE_COLORS]
    assert class_palette(3).tolist() == [[95, 130, 194], [217, 207, 235], [15, 163, 33]]
    assert np.array_equal(label_palette(ModelConfig(label_nc=5, semantic_nc=5)), class_palette(5))
    assert class_palette(0).shape == (1, 3)  # dense-input checkpoints still get a colour
    assert np.array_equal(default_palette(len(LANDSCAPE_COLORS)), np.array(LANDSCAPE_COLORS, np.uint8))
    assert np.array_equal(default_palette(12), class_palette(12))


def test_colorize_maps_ids_and_clips_past_the_palette():
    ids = np.array([[0, 1], [2, 7]])
    rgb = colorize(ids, ((1, 2, 3), (4, 5, 6), (7, 8, 9)))
    assert rgb.dtype == np.uint8 and rgb.tolist() == [[[1, 2, 3], [4, 5, 6]], [[7, 8, 9], [7, 8, 9]]]
    pil = colorize_labels(torch.tensor([[[6, 0], [0, 6]]]), get_model_config("landscapes"))
    sky, black = list(LANDSCAPE_COLORS[6]), list(LANDSCAPE_COLORS[0])
    assert pil.mode == "RGB" and np.asarray(pil).tolist() == [[sky, black], [black, sky]]


def test_semantic_cell_colours_ids_and_shows_dense_maps():
    palette = np.array([[10, 20, 30], [40, 50, 60]], np.uint8)
    cell = semantic_cell(torch.tensor([[[1, 0, 5]]]), palette)
    assert cell.dtype == torch.uint8 and cell.shape == (3, 1, 3)
    assert cell[:, 0].T.tolist() == [[40, 50, 60], [10, 20, 30], [40, 50, 60]]
    edges = semantic_cell(torch.tensor([[[0.0, 0.5, 2.0]]]), palette)
    assert edges.tolist() == [[[-1.0, 0.0, 1.0]]]
    pose = semantic_cell(torch.rand(20, 2, 2), palette)
    assert pose.shape == (3, 2, 2)


def test_semantic_preview_colours():
    cfg = ModelConfig(label_nc=3, semantic_nc=3)  # no class colours: the VOC palette
    onehot = torch.eye(3)[torch.tensor([[0, 1, 2]])].permute(0, 2, 1)[..., None]  # [1,3,3,1]: ids 0,1,2 down H
    rgb = semantic_preview(onehot, cfg)
    assert rgb.shape == (1, 3, 3, 1)
    assert (rgb[0, :, :, 0].T * 255).round().tolist() == [[0, 0, 0], [128, 0, 0], [0, 128, 0]]
    edges = semantic_preview(torch.full((1, 15, 2, 2), 0.25), ModelConfig(label_nc=0, semantic_nc=15))
    assert edges.shape == (1, 3, 2, 2) and (edges == 0.25).all()


def test_grid_layout_padding_and_blank_cells():
    a, b = torch.zeros(3, 2, 3), torch.full((3, 2, 3), 0.5)
    canvas = grid([[a, b], [None, a], [b]], padding=1)
    assert canvas.shape == (3, 3 * 3 + 1, 2 * 4 + 1)
    assert (canvas[:, 1:3, 1:4] == 0).all() and (canvas[:, 1:3, 5:8] == 0.5).all()
    assert (canvas[:, 4:6, 1:4] == 1).all() and (canvas[:, 4:6, 5:8] == 0).all()  # None: white
    assert (canvas[:, 7:9, 5:8] == 1).all()  # short row: white
    assert (canvas[:, 0] == 1).all() and (canvas[:, :, 4] == 1).all()  # padding lines
    assert torch.equal(grid([[a, b]]), torch.cat([a, b], dim=2))  # no padding: side by side
    with pytest.raises(ValueError, match="at least one image"):
        grid([[None]])


def test_grid_cell_and_save_grid(tmp_path):
    assert grid_cell(torch.tensor([[[255]]], dtype=torch.uint8), (1, 1)).tolist() == [[[1.0]]] * 3
    assert grid_cell(torch.tensor([[[-1.0, 3.0]]]), (1, 2)).tolist() == [[[0.0, 1.0]]] * 3
    assert grid_cell(None, (2, 2)).shape == (3, 2, 2)
    with pytest.raises(ValueError, match="grid cells"):
        grid_cell(torch.zeros(2, 4, 4), (4, 4))
    assert torch.equal(to_unit(torch.tensor([-1.0, 0.0, 1.0])), torch.tensor([0.0, 0.5, 1.0]))
    path = save_grid([[torch.zeros(3, 4, 4), torch.full((1, 8, 8), 1.0)]], tmp_path / "g.png")
    img = np.asarray(Image.open(path))
    assert img.shape == (4 + 4, 2 * 6 + 2, 3)
    assert (img[2:6, 2:6] == 128).all() and (img[2:6, 8:12] == 255).all()
    with pytest.raises(ValueError, match="at least one row"):
        save_grid([], tmp_path / "none.png")


def test_save_grid_layout_and_pixels(tmp_path):
    red = torch.tensor([1.0, -1.0, -1.0]).view(3, 1, 1).expand(3, 4, 4)
    grey = torch.zeros(1, 4, 4)  # one channel -> replicated
    small_blue = torch.tensor([0, 0, 255], dtype=torch.uint8).view(3, 1, 1).expand(3, 2, 2)  # resized to 4x4
    path = save_grid([[red, grey, small_blue], [None, red]], tmp_path / "grid.png", padding=1)
    img = np.asarray(Image.open(path))
    assert img.shape == (2 * 5 + 1, 3 * 5 + 1, 3)
    assert img[1:5, 1:5].tolist() == [[[255, 0, 0]] * 4] * 4
    assert (img[1:5, 6:10] == 128).all()
    assert img[1:5, 11:15].tolist() == [[[0, 0, 255]] * 4] * 4
    assert (img[6:10, 1:5] == 255).all() and (img[6:10, 11:15] == 255).all()  # blank cells
    assert img[6:10, 6:10].tolist() == [[[255, 0, 0]] * 4] * 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png"]
