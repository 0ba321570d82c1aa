"""results.json / results.md, side-by-side comparison, PNG grids."""

from __future__ import annotations

import json

import numpy as np
import torch
from PIL import Image

from cocosnet.metrics.results import compare_results, make_grid, write_results


def test_write_results_json_and_markdown(tmp_path):
    results = {
        "output": {"delta_e": 3.5, "swd_avg": 12.25, "samples": 4},
        "paste": {"delta_e": 9.0, "samples": 4},
    }
    json_path, md_path = write_results(results, tmp_path / "eval")
    assert json.loads(json_path.read_text()) == results
    md = md_path.read_text()
    assert "| set | delta_e | swd_avg | samples |" in md
    assert "| output | 3.5 | 12.25 | 4 |" in md
    assert "| paste | 9 |  | 4 |" in md
    assert sorted(p.name for p in (tmp_path / "eval").iterdir()) == ["results.json", "results.md"]
    flat_json, flat_md = write_results(
        {"fid": torch.tensor(1.5), "config": {"fmt": "png"}}, tmp_path / "flat"
    )
    assert json.loads(flat_json.read_text()) == {"fid": 1.5, "config": {"fmt": "png"}}
    assert "| fid | 1.5 |" in flat_md.read_text() and "| config/fmt | png |" in flat_md.read_text()


def test_compare_results_side_by_side(tmp_path):
    write_results({"output": {"fid": 40.0, "delta_e": 5.0}}, tmp_path / "a")
    write_results({"output": {"fid": 30.0}, "extra": {"fid": 1.0}}, tmp_path / "b")
    table = compare_results(tmp_path / "a" / "results.json", tmp_path / "b", names=("old", "new"))
    lines = table.splitlines()
    assert lines[0] == "| metric | old | new | new − old |"
    assert "| output/fid | 40 | 30 | -10 |" in lines
    assert "| output/delta_e | 5 |  |  |" in lines
    assert "| extra/fid |  | 1 |  |" in lines


def test_make_grid_layout_and_pixels(tmp_path):
    red = torch.tensor([1.0, -1.0, -1.0]).view(3, 1, 1).expand(3, 4, 4)
    grey = torch.zeros(1, 4, 4)  # one channel -> replicated
    small_blue = torch.tensor([0, 0, 255], dtype=torch.uint8).view(3, 1, 1).expand(3, 2, 2)  # resized to 4x4
    path = make_grid([[red, grey, small_blue], [None, red]], tmp_path / "grid.png", padding=1)
    img = np.asarray(Image.open(path))
    assert img.shape == (2 * 5 + 1, 3 * 5 + 1, 3)
    assert img[1:5, 1:5].tolist() == [[[255, 0, 0]] * 4] * 4
    assert (img[1:5, 6:10] == 128).all()
    assert img[1:5, 11:15].tolist() == [[[0, 0, 255]] * 4] * 4
    assert (img[6:10, 1:5] == 255).all() and (img[6:10, 11:15] == 255).all()  # blank cells
    assert img[6:10, 6:10].tolist() == [[[255, 0, 0]] * 4] * 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png"]
