"""results.json / results.md, side-by-side comparison, PNG grids."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from cocosnet.evaluation.report import GRID_COLUMNS, compare_results, grid_row, write_grid, write_results


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


def test_run_section_and_three_way_comparison(tmp_path):
    runs = {
        name: {"run": {"source": f"baseline:{name}", "samples": 3}, "output": {"delta_e": d, "swd_avg": s}}
        for name, d, s in (("paste", 18.0, 17.0), ("mean", 9.5, 254.0), ("model", 7.25, 12.0))
    }
    for name, results in runs.items():
        write_results(results, tmp_path / name)
    md = (tmp_path / "paste" / "results.md").read_text()
    assert "| run | value |\n| --- | --- |\n| source | baseline:paste |\n| samples | 3 |\n" in md
    assert "| set | delta_e | swd_avg |\n| --- | --- | --- |\n| output | 18 | 17 |\n" in md
    table = compare_results(*(tmp_path / name for name in runs), names=list(runs))
    lines = table.splitlines()
    assert lines[0] == "| metric | paste | mean | model | mean − paste | model − paste |"
    assert "| output/delta_e | 18 | 9.5 | 7.25 | -8.5 | -10.75 |" in lines
    assert "| run/source | baseline:paste | baseline:mean | baseline:model |  |  |" in lines
    with pytest.raises(FileNotFoundError, match="nothere"):
        compare_results(tmp_path / "paste", tmp_path / "nothere")
    with pytest.raises(ValueError, match="at least two"):
        compare_results(tmp_path / "paste")


def test_grid_rows_and_the_report_grid(tmp_path):
    """A row is input (coloured) | exemplar | warped | output | reference; no warped leaves a white cell."""
    palette = np.array([[255, 0, 0], [0, 0, 255]], np.uint8)
    label = torch.tensor([[[0, 1], [1, 0]]])
    black, white = torch.full((3, 2, 2), -1.0), torch.ones(3, 2, 2)
    row = grid_row(label, black, None, white, black.double(), palette)
    assert len(row) == len(GRID_COLUMNS) == 5 and row[2] is None and row[4].dtype == torch.float32
    path = write_grid([row, grid_row(label, white, black, black, white, palette)], tmp_path / "grid.png")
    img = np.asarray(Image.open(path))
    assert img.shape == (2 * 4 + 2, 5 * 4 + 2, 3)  # 2x2 cells, 2-px padding
    assert img[2:4, 2:4].tolist() == [[[255, 0, 0], [0, 0, 255]], [[0, 0, 255], [255, 0, 0]]]
    assert (img[2:4, 6:8] == 0).all() and (img[2:4, 10:12] == 255).all() and (img[2:4, 14:16] == 255).all()
    assert (img[6:8, 10:12] == 0).all() and (img[6:8, 18:20] == 255).all()

